@profile_ble_router
Feature: Scan filters (filter_name, filter_mac, filter_rssi, filter_uuid, filter_duplicates)
  "Multiple filter_name and filter_mac filters are allowed at the same time. The adData and
  scanData packets that meet one of the filters will be sent." "Different filter types are
  allowed at the same time. Only the packets that meet all the filters will be sent."

  @req:BLE-SCAN-010 @needs:scan @needs:world-control
  Scenario: filter_name keeps exactly the listed names
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 2 m
    And a peripheral "HR-3" at 2 m
    And a peripheral "HR-10" at 2 m
    When a client opens the scan stream with "filter_name=HR-1,HR-3"
    And 3 seconds pass
    Then the scan stream reports only "HR-1" and "HR-3"
    And the scan stream reports nothing from "HR-10"

  @req:BLE-SCAN-017 @needs:scan @needs:world-control
  Scenario: filter_name also finds a name carried only in the scan response
    Given a peripheral "Thermo" at 2 m with its name only in the scan response
    And a peripheral "HR-1" at 2 m
    When a client opens the scan stream with "filter_name=Thermo&active=1"
    And 3 seconds pass
    Then the scan stream reports only "Thermo"
    And the scan stream has scan responses from "Thermo"

  @req:BLE-SCAN-011 @needs:scan @needs:world-control
  Scenario: filter_mac keeps exactly the listed addresses
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 2 m
    And a peripheral "HR-3" at 2 m
    When a client opens the scan stream with "filter_mac=${HR-1},${HR-3}"
    And 3 seconds pass
    Then the scan stream reports only "HR-1" and "HR-3"

  @req:BLE-SCAN-012 @needs:scan @needs:world-control
  Scenario: filter_rssi drops advertisers weaker than the threshold
    Given a peripheral "Near" at 1 m
    And a peripheral "Far" at 30 m
    When a client opens the scan stream with "filter_rssi=-60"
    And 5 seconds pass
    Then the scan stream reports only "Near"
    And every RSSI reported for "Near" is at least -60 dBm

  @req:BLE-SCAN-013 @needs:scan @needs:world-control
  Scenario Outline: filter_uuid takes a 16-bit UUID as written, not in on-air byte order
    Given a peripheral "Svc-FFF0" at 2 m advertising the service "FFF0"
    And a peripheral "Svc-F0FF" at 3 m advertising the service "F0FF"
    And a peripheral "HR-1" at 2 m advertising the service "180D"
    When a client opens the scan stream with "filter_uuid=<filter>"
    And 3 seconds pass
    Then the scan stream reports only <reported>

    Examples:
      | filter    | reported                 |
      | FFF0      | "Svc-FFF0"               |
      | F0FF      | "Svc-F0FF"               |
      | FFF0,180D | "Svc-FFF0" and "HR-1"    |

  @req:BLE-SCAN-014 @needs:scan @needs:world-control
  Scenario: filter_uuid ignores UUID-looking bytes outside the service UUID fields
    Given a peripheral "Svc-FFF0" at 2 m advertising the service "FFF0"
    And a peripheral "Maker" at 2 m with:
      | service uuids     | none     |
      | manufacturer data | F0FFF0FF |
    When a client opens the scan stream with "filter_uuid=FFF0"
    And 3 seconds pass
    Then the scan stream reports only "Svc-FFF0"

  @req:BLE-SCAN-015 @needs:scan @needs:world-control
  Scenario: filter_uuid matches a 128-bit service UUID written without dashes
    Given a peripheral "UART" at 2 m with:
      | service uuids     | 6E400001-B5A3-F393-E0A9-E50E24DCCA9E |
      | manufacturer data | none                                 |
    And a peripheral "HR-1" at 2 m
    When a client opens the scan stream with "filter_uuid=6E400001B5A3F393E0A9E50E24DCCA9E"
    And 3 seconds pass
    Then the scan stream reports only "UART"

  @req:BLE-SCAN-016 @needs:scan @needs:world-control
  Scenario: filter_uuid may give only part of a service UUID
    Given a peripheral "UART" at 2 m with:
      | service uuids     | 6E400001-B5A3-F393-E0A9-E50E24DCCA9E |
      | manufacturer data | none                                 |
    And a peripheral "HR-1" at 2 m
    When a client opens the scan stream with "filter_uuid=6E400001"
    And 3 seconds pass
    Then the scan stream reports only "UART"

  @req:BLE-SCAN-020 @needs:scan @needs:world-control
  Scenario: filter_duplicates=1 reports each advertiser once
    Given a peripheral "HR-1" at 2 m with:
      | advertising interval | 200 ms |
    And a peripheral "HR-2" at 3 m with:
      | advertising interval | 200 ms |
    When a client opens the scan stream with "filter_duplicates=1"
    And 5 seconds pass
    Then the scan stream reports "HR-1" exactly once
    And the scan stream reports "HR-2" exactly once

  @req:BLE-SCAN-021 @needs:scan @needs:world-control
  Scenario: filter_duplicates above 1000 ms restarts the duplicate filter every period
    Given a peripheral "HR-1" at 2 m with:
      | advertising interval | 200 ms |
    When a client opens the scan stream with "filter_duplicates=2000"
    And 7 seconds pass
    Then the scan stream reports "HR-1" between 3 and 5 times

  @req:BLE-SCAN-030 @needs:scan @needs:world-control
  Scenario Outline: Filters of different types must all match; values of one type need one
    Given a peripheral "HR-1" at 1 m
    And a peripheral "HR-2" at 30 m
    And a peripheral "Other" at 1 m
    When a client opens the scan stream with "<filters>"
    And 5 seconds pass
    Then the scan stream reports only <reported>

    Examples:
      | filters                                            | reported            |
      | filter_name=HR-1,HR-2&filter_rssi=-60              | "HR-1"              |
      | filter_name=HR-1,HR-2&filter_mac=${HR-2},${Other}  | "HR-2"              |
      | filter_mac=${HR-1},${HR-2},${Other}&filter_rssi=-60 | "HR-1" and "Other" |
