@profile_ble_router
Feature: Losing a connected device
  A link whose peer goes out of range or loses power ends after the supervision timeout; the
  router must then report it "disconnected" on the connection-state stream and drop it from
  the connected-device list.

  Background:
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected

  @req:BLE-CST-003 @req:BLE-CONN-010 @needs:connection-state @needs:world-control
  Scenario: A device that moves out of range is reported disconnected
    When a client opens the connection-state stream
    And "HR-1" moves to 500 m
    Then the connection-state stream shows "HR-1" "disconnected" within 2 seconds
    And the connected-device list does not contain "HR-1"

  @req:BLE-CST-004 @req:BLE-CONN-010 @needs:connection-state @needs:world-control
  Scenario: A device that loses power is reported disconnected
    When a client opens the connection-state stream
    And "HR-1" loses power
    Then the connection-state stream shows "HR-1" "disconnected" within 2 seconds
    And the connected-device list does not contain "HR-1"

  @req:BLE-CONN-012 @needs:connect @needs:world-control
  Scenario: A device that left range can be connected again once it is back
    When "HR-1" moves to 500 m
    And 3 seconds pass
    And "HR-1" moves to 2 m
    And the client connects to "HR-1"
    Then the connection succeeds
    And the connected-device list contains "HR-1"
