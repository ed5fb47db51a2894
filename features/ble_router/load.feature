@profile_ble_router @load
Feature: Load: a crowd of advertisers, the connection limit, many devices notifying
  Select these with -m load. A thousand advertisers around the router, scanned through each
  filter type; as many connections as chipinfo's max allows, and one more; forty devices
  notifying at 10 Hz through one notification stream with sequence=2, where the per-device
  seqNum and the counter values the devices sent prove that nothing was lost or reordered.

  @req:BLE-LOAD-001 @needs:scan @needs:load
  Scenario: 1,000 advertisers and a scan stream under each filter type
    Given a crowd of 1000 advertising peripherals within 20 m
    When clients open scan streams filtered by:
      | filter      | query                                          |
      | name        | filter_name=HIL-0007,HIL-0500                  |
      | name prefix | filter_name=HIL-009*                           |
      | mac         | filter_mac=F0:00:00:00:00:07                   |
      | mac prefix  | filter_mac=F0:00:00:00:01*                     |
      | uuid        | filter_uuid=FD00                               |
      | rssi        | filter_rssi=-60                                |
      | value       | filter_value=%7B%22data%22:%22FFFF0123%22%7D   |
      | duplicates  | filter_duplicates=1                            |
    And 5 seconds pass
    Then each filtered scan stream reported what its filter lets through:
      | filter      | reported                                                                            |
      | name        | HIL-0007, HIL-0500                                                                  |
      | name prefix | HIL-0090, HIL-0091, HIL-0092, HIL-0093, HIL-0094, HIL-0095, HIL-0096, HIL-0097, HIL-0098, HIL-0099 |
      | mac         | HIL-0007                                                                            |
      | mac prefix  | address F0:00:00:00:01*                                                             |
      | uuid        | advertising FD00                                                                    |
      | rssi        | rssi >= -60                                                                         |
      | value       | HIL-0291                                                                            |
      | duplicates  | each once, at least 990                                                             |

  @req:BLE-LOAD-002 @needs:connect @needs:load
  Scenario: The router's connection limit is reached and one more is refused clearly
    When the client connects the first 22 of 23 standard peripherals
    Then all 22 connections succeed as chipinfo allows
    When the client connects one more, "HR-23"
    Then the response status is 500 and the message mentions "maximum"
    And the connected-device list holds 22 devices

  @req:BLE-LOAD-003 @needs:notify @needs:load
  Scenario Outline: <count> devices notifying at <hz> Hz for <minutes> simulated minutes lose and reorder nothing
    Given a router that holds at least <count> connections
    When <count> connected peripherals notify at <hz> Hz for <minutes> simulated minutes through the notification stream
    Then every device's notifications arrived complete and in order, at least 95 percent of those sent

    Examples:
      | count | hz | minutes |
      | 40    | 10 | 0.5     |

    @slow
    Examples:
      | count | hz | minutes |
      | 40    | 10 | 10      |
