@profile_ble_router
Feature: Stream parameters: scan timestamp and beacon, notification sequence and timestamp, the SSE limit

  @req:BLE-SCAN-055 @needs:scan @needs:world-control
  Scenario: timestamp=1 adds a timestamp to each scan report, and only then
    Given a peripheral "HR-1" at 2 m
    When a client opens the scan stream with "timestamp=1&filter_mac=${HR-1}"
    And 3 seconds pass
    Then every scan report from "HR-1" carries a timestamp
    When a client opens the scan stream with "filter_mac=${HR-1}"
    And 3 seconds pass
    Then no scan report from "HR-1" carries a timestamp

  @req:BLE-SCAN-056 @needs:scan @needs:world-control
  Scenario: beacon=1 adds the decoded iBeacon, and only then
    Given a peripheral "IB" at 2 m with:
      | advertising type | ADV_NONCONN_IND                                              |
      | advertising data | 0201061AFF4C000215B9407F30F5F8466EAFF925556B57FE6D0049000AC5 |
    When a client opens the scan stream with "beacon=1&filter_mac=${IB}"
    And 3 seconds pass
    Then the scan reports from "IB" carry the iBeacon "B9407F30-F5F8-466E-AFF9-25556B57FE6D" major 73 minor 10
    When a client opens the scan stream with "filter_mac=${IB}"
    And 3 seconds pass
    Then the scan reports from "IB" carry no beacon

  @req:BLE-NOTIF-010 @needs:notify @needs:world-control
  Scenario: sequence=1 numbers the stream's notifications globally
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    And "HR-1" is connected
    And "HR-2" is connected
    When a client opens the notification stream with "sequence=1"
    And the client enables notifications of "2A37" on "HR-1"
    And the client enables notifications of "2A37" on "HR-2"
    Then the notification stream receives at least 3 notifications from "HR-2" on "2A37" within 5 seconds
    And the notification stream numbers its events 1, 2, 3 ... across devices

  @req:BLE-NOTIF-010 @needs:notify @needs:world-control
  Scenario: sequence=2 numbers each device's notifications on its own
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    And "HR-1" is connected
    And "HR-2" is connected
    When a client opens the notification stream with "sequence=2"
    And the client enables notifications of "2A37" on "HR-1"
    And the client enables notifications of "2A37" on "HR-2"
    Then the notification stream receives at least 3 notifications from "HR-2" on "2A37" within 5 seconds
    And the notification stream numbers the events of "HR-1" and "HR-2" each from 1

  @req:BLE-NOTIF-011 @needs:notify @needs:world-control
  Scenario: timestamp=1 adds a timestamp to each notification
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When a client opens the notification stream with "timestamp=1"
    And the client enables notifications of "2A37" on "HR-1"
    Then the notification stream receives at least 2 notifications from "HR-1" on "2A37" within 4 seconds
    And every notification event carries a timestamp and no seqNum

  @req:BLE-NOTIF-012 @needs:notify
  Scenario Outline: Bad notification stream parameters are refused with 400
    When the client sends "GET /gatt/nodes?event=1&<query>"
    Then the request is refused as bad input mentioning "<mentions>"

    Examples:
      | query       | mentions  |
      | sequence=3  | sequence  |
      | timestamp=2 | timestamp |

  @req:BLE-SSE-001 @needs:connection-state
  Scenario: Past its SSE limit the router refuses a stream with 500 and keeps the others
    When clients open connection-state streams until the router refuses one
    Then a further stream is answered 500 once 20 to 30 streams are open
    And the streams opened before are still open
    When the client closes one of them
    Then a new stream is accepted

  @req:BLE-SCAN-050 @needs:scan @needs:world-control
  Scenario Outline: Enhanced filter_name: prefix, suffix and * (any named device)
    Given a peripheral "Cassia-7" at 2 m
    And a peripheral "Thermo-aaa" at 3 m
    And a peripheral "Plain" at 4 m
    And a peripheral "Nameless" at 5 m with:
      | name in | none |
    When a client opens the scan stream with "filter_name=<filter>"
    And 3 seconds pass
    Then the scan stream reports only <reported>

    Examples:
      | filter            | reported                                 |
      | Cassia*           | "Cassia-7"                               |
      | *aaa              | "Thermo-aaa"                             |
      | Cassia*,Plain     | "Cassia-7" and "Plain"                   |
      | *                 | "Cassia-7", "Thermo-aaa" and "Plain"     |

  @req:BLE-SCAN-051 @needs:scan @needs:world-control
  Scenario: Enhanced filter_mac: a MAC prefix ending in *
    Given a peripheral "CC-1" at 2 m with:
      | address | CC:DD:EE:00:00:01 |
    And a peripheral "CC-2" at 3 m with:
      | address | CC:DD:EE:00:00:02 |
    And a peripheral "DD-1" at 4 m with:
      | address | DD:00:00:00:00:01 |
    When a client opens the scan stream with "filter_mac=cc:dd:ee*"
    And 3 seconds pass
    Then the scan stream reports only "CC-1" and "CC-2"

  @req:BLE-SCAN-052 @needs:scan @needs:world-control
  Scenario Outline: filter_value with an offset, without one, and several values
    Given a peripheral "V-1" at 2 m with:
      | service uuids     | none |
      | manufacturer data | ABCD |
    And a peripheral "V-2" at 3 m with:
      | service uuids     | none |
      | manufacturer data | 1234 |
    When a client opens the scan stream with the value filter <value>
    And 3 seconds pass
    Then the scan stream reports only <reported>

    Examples:
      | value                                                              | reported          |
      | {"offset":"3","data":"05FFFFFFABCD"}                               | "V-1"             |
      | [{"offset":"4","data":"05FF"},{"offset":"3","data":"05FFFFFF1234"}] | "V-2"             |
      | {"data":"FFFF1234"}                                                | "V-2"             |
      | [{"offset":"6","data":"FFABCD"},{"data":"FF1234"}]                 | "V-1" and "V-2"   |

  @req:BLE-SCAN-053 @needs:scan @needs:world-control
  Scenario: connectable=1 reports connectable advertisers only
    Given a peripheral "HR-1" at 2 m
    And a beacon "B-1" at 3 m
    When a client opens the scan stream with "connectable=1"
    And 3 seconds pass
    Then the scan stream reports "HR-1"
    And the scan stream reports nothing from "B-1"

  @req:BLE-SCAN-054 @needs:scan @needs:world-control
  Scenario: report_interval reports each device once per interval
    Given a peripheral "HR-1" at 2 m with:
      | advertising interval | 100 ms |
    When a client opens the scan stream with "report_interval=2000&filter_mac=${HR-1}"
    And 6.5 seconds pass
    Then the scan stream reports "HR-1" between 3 and 4 times

  @req:BLE-SCAN-057 @needs:scan
  Scenario Outline: report_interval below 1000 ms and other bad scan parameters are refused
    When the client sends "GET /gap/nodes?event=1&<query>"
    Then the request is refused as bad input mentioning "<mentions>"

    Examples:
      | query               | mentions        |
      | report_interval=999 | report_interval |
      | timestamp=2         | timestamp       |
      | beacon=yes          | beacon          |
      | filter_mac=CC:D*    | CC:D*           |
