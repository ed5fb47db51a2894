@profile_ble_router
Feature: Faults: the router reboots, the radio drops packets
  POST /cassia/reboot restarts the router: it answers, then every link drops, every stream
  ends, the API is away while it boots, and it comes back with nothing of the old session —
  the client reopens its streams, reconnects its devices and re-enables notifications. A radio
  that loses packets delays data on a link (the link layer retransmits) but loses or reorders
  no notification; advertisements, sent once each, are partly missed.

  @req:BLE-MGMT-REBOOT-001 @req:BLE-MGMT-REBOOT-002 @req:BLE-MGMT-REBOOT-003 @req:BLE-MGMT-002 @needs:reboot @needs:world-control
  Scenario: After a reboot the client reopens its streams, reconnects and re-subscribes
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    And a client opens the connection-state stream
    And a client opens the notification stream
    And a client opens the scan stream
    When the client enables notifications of "2A37" on "HR-1"
    And the client reboots the router
    Then the router accepts the reboot
    And the scan stream ends within 3 seconds
    And the notification stream ends within 3 seconds
    And the connection-state stream ends within 3 seconds
    And the router's API is unavailable
    When the router answers again within 90 seconds
    Then the router's uptime is less than 10 seconds
    And the connected-device list does not contain "HR-1"
    When a client opens the scan stream
    And 3 seconds pass
    Then the scan stream reports "HR-1"
    When a client opens the connection-state stream
    And a client opens the notification stream
    And the client connects to "HR-1"
    Then the connection succeeds
    And the connection-state stream shows "HR-1" "connected" within 2 seconds
    And the notification stream receives nothing from "HR-1" for 3 seconds
    When the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives at least 3 notifications from "HR-1" on "2A37" within 4 seconds

  @req:BLE-FAULT-001 @needs:notify @needs:radio-faults
  Scenario: A radio losing 30 percent of its packets delays notifications but loses none
    Given a peripheral "HR-1" at 2 m with:
      | notify rate | 10 Hz |
    And "HR-1" is connected
    And a client opens the notification stream numbering each device's notifications
    When the client enables notifications of "2A37" on "HR-1"
    And the radio loses 30 percent of its transmissions
    And 20 seconds pass
    Then the notification stream received at least 180 notifications from "HR-1"
    And the notifications from "HR-1" arrived complete and in order
    And the connected-device list contains "HR-1"

  @req:BLE-FAULT-002 @needs:scan @needs:radio-faults
  Scenario: A radio losing half its packets lets the scan stream miss advertisements
    Given a peripheral "B-1" at 2 m with:
      | advertising interval | 100 ms |
    And a client opens the scan stream with "filter_mac=${B-1}"
    Then the scan stream reports "B-1" between 80 and 101 times in the next 10 seconds
    When the radio loses 50 percent of its transmissions
    Then the scan stream reports "B-1" between 25 and 70 times in the next 10 seconds
