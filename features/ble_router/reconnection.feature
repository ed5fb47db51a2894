@profile_ble_router
Feature: Reconnecting after a device was lost
  A link whose device moves out of range or loses power ends after the supervision timeout:
  the connection-state stream says "disconnected", the notification stream stays open, and
  nothing comes back by itself ("auto" is disabled since firmware 1.4.3). The client connects
  again and must redo the up-layer connections — "resubscribe the BLE notifications" — since a
  new link starts with every CCCD off.

  Background:
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    And a client opens the connection-state stream
    And a client opens the notification stream
    When the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives at least 2 notifications from "HR-1" on "2A37" within 3 seconds

  @req:BLE-RECONN-001 @req:BLE-RECONN-003 @needs:notify @needs:connection-state @needs:world-control
  Scenario: A device out of range and back is connected again and must be re-subscribed
    When "HR-1" moves to 500 m
    Then the connection-state stream shows "HR-1" "disconnected" within 3 seconds
    And the connected-device list does not contain "HR-1"
    And the notification stream is still open
    When "HR-1" moves to 2 m
    And 5 seconds pass
    Then the connected-device list does not contain "HR-1"
    When the client connects to "HR-1"
    Then the connection succeeds
    And the connection-state stream has shown "HR-1" "connected" 1 times
    And the notification stream receives nothing from "HR-1" for 3 seconds
    When the notifications from "HR-1" so far are noted
    And the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives 3 more notifications from "HR-1" within 4 seconds

  @req:BLE-RECONN-002 @req:BLE-RECONN-003 @needs:notify @needs:connection-state @needs:world-control
  Scenario: A power-cycled device comes back advertising, is reconnected and must be re-subscribed
    When "HR-1" loses power
    Then the connection-state stream shows "HR-1" "disconnected" within 3 seconds
    When "HR-1" is powered on
    And a client opens the scan stream
    And 3 seconds pass
    Then the scan stream reports "HR-1"
    When the client connects to "HR-1"
    Then the connection succeeds
    And the notification stream receives nothing from "HR-1" for 3 seconds
    When the notifications from "HR-1" so far are noted
    And the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives 3 more notifications from "HR-1" within 4 seconds

  @req:BLE-RECONN-004 @needs:connect @needs:world-control
  Scenario: A device whose link was lost is not reconnected by the router on its own
    When the client disconnects "HR-1"
    And the client connects to "HR-1" with "auto=1"
    Then the connection succeeds
    When "HR-1" moves to 500 m
    And 3 seconds pass
    And "HR-1" moves to 2 m
    And 10 seconds pass
    Then the connected-device list does not contain "HR-1"
