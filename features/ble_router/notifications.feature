@profile_ble_router
Feature: Notifications and indications (GET /gatt/nodes?event=1)
  A client opens them by writing the characteristic's CCCD (its 2902 descriptor, found by
  discovery): "0100" notifications, "0200" indications, "0000" off. They arrive on the stream
  as {"value", "id", "handle", "dataType"}. HR-1's 2A37 counts up once a second; its battery
  level 2A19 is indicated once a second.

  Background:
    Given a peripheral "HR-1" at 2 m with:
      | battery indications | 1 Hz |
    And "HR-1" is connected
    And a client opens the notification stream

  @req:BLE-NOTIF-001 @req:BLE-NOTIF-004 @needs:notify @needs:world-control
  Scenario: Notifications flow after writing 0100 to the CCCD
    When the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives at least 3 notifications from "HR-1" on "2A37" within 4 seconds
    And the notified values of "2A37" from "HR-1" count up

  @req:BLE-NOTIF-002 @needs:notify @needs:world-control
  Scenario: Notifications flow only while the CCCD is enabled
    Then the notification stream receives nothing from "HR-1" for 3 seconds
    When the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives at least 2 notifications from "HR-1" on "2A37" within 3 seconds
    When the client disables notifications of "2A37" on "HR-1"
    And 1 second passes
    Then the notification stream receives nothing from "HR-1" for 3 seconds

  @req:BLE-NOTIF-003 @needs:notify @needs:world-control
  Scenario: Indications flow after writing 0200 to the CCCD
    When the client enables indications of "2A19" on "HR-1"
    Then the notification stream receives at least 2 indications from "HR-1" on "2A19" within 4 seconds
