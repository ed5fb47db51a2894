@profile_ble_ac
Feature: Scan filters of the combined stream (the seed's scan-filter support table)
  POST /api/aps/scan/open takes the scan filters; the seed's support table says from which AC
  firmware each works on the combined stream: filter_uuid, filter_rssi, exact filter_mac and
  exact filter_name from 1.4.3; MAC and name prefixes, name suffixes and filter_value with an
  offset from 2.0.3; filter_value without offset or with several values, filter_duplicates,
  timestamp, connectable and report_interval from 2.1.1; beacon not at all.

  Background:
    Given a client opens the combined stream

  @req:AC-FILT-001 @needs:combined-scan @needs:world-control
  Scenario: filter_name keeps exactly the listed names
    Given a peripheral "HR-1" 2 m from router "A"
    And a peripheral "HR-2" 2 m from router "A"
    And a peripheral "HR-10" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_name | HR-1,HR-2 |
    And 4 seconds pass
    Then the combined stream reports scans only of "HR-1" and "HR-2"

  @req:AC-FILT-002 @needs:combined-scan-203 @needs:world-control
  Scenario Outline: filter_name takes a prefix or a suffix
    Given a peripheral "Thermo-1" 2 m from router "A"
    And a peripheral "Thermo-2" 2 m from router "A"
    And a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_name | <filter> |
    And 4 seconds pass
    Then the combined stream reports scans only of <reported>

    Examples:
      | filter  | reported                   |
      | Thermo* | "Thermo-1" and "Thermo-2"  |
      | *-1     | "Thermo-1" and "HR-1"      |

  @req:AC-FILT-003 @needs:combined-scan @needs:world-control
  Scenario: filter_mac keeps exactly the listed addresses
    Given a peripheral "HR-1" 2 m from router "A"
    And a peripheral "HR-2" 2 m from router "A"
    And a peripheral "HR-3" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_mac | ${HR-1},${HR-3} |
    And 4 seconds pass
    Then the combined stream reports scans only of "HR-1" and "HR-3"

  @req:AC-FILT-004 @needs:combined-scan-203 @needs:world-control
  Scenario: filter_mac takes an address prefix
    Given a peripheral "Tag-1" 2 m from router "A" with:
      | address | F1:11:00:00:00:01 |
    And a peripheral "Tag-2" 2 m from router "A" with:
      | address | F1:11:00:00:00:02 |
    And a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_mac | F1:11* |
    And 4 seconds pass
    Then the combined stream reports scans only of "Tag-1" and "Tag-2"

  @req:AC-FILT-005 @needs:combined-scan @needs:world-control
  Scenario: filter_rssi drops what is heard weaker than the threshold
    Given a peripheral "Near" 1 m from router "A"
    And a peripheral "Far" 10 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_rssi | -50 |
    And 5 seconds pass
    Then the combined stream reports scans only of "Near"
    And every scan message of "Near" has an RSSI of at least -50 dBm

  @req:AC-FILT-006 @needs:combined-scan @needs:world-control
  Scenario: filter_uuid keeps the advertisers of a service
    Given a peripheral "Svc" 2 m from router "A" with:
      | service uuids | FFF0 |
    And a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_uuid | FFF0 |
    And 4 seconds pass
    Then the combined stream reports scans only of "Svc"

  @req:AC-FILT-007 @needs:combined-scan-203 @needs:world-control
  Scenario: filter_value with an offset
    Given a peripheral "Val" 2 m from router "A" with:
      | advertising data | 02010605FF0A0B0C0D |
    And a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_value | {"offset":"4","data":"FF0A0B"} |
    And 4 seconds pass
    Then the combined stream reports scans only of "Val"

  @req:AC-FILT-008 @needs:combined-scan-211 @needs:world-control
  Scenario: filter_value without an offset matches anywhere in the packet
    Given a peripheral "Val" 2 m from router "A" with:
      | advertising data | 02010605FF0A0B0C0D |
    And a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_value | {"data":"0B0C0D"} |
    And 4 seconds pass
    Then the combined stream reports scans only of "Val"

  @req:AC-FILT-009 @needs:combined-scan-211 @needs:world-control
  Scenario: Several filter_value entries: a packet matching one of them passes
    Given a peripheral "Val-1" 2 m from router "A" with:
      | advertising data | 02010605FF0A0B0C0D |
    And a peripheral "Val-2" 2 m from router "A" with:
      | advertising data | 02010605FF1A1B1C1D |
    And a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | filter_value | [{"offset":"4","data":"FF0A0B"},{"data":"1B1C"}] |
    And 4 seconds pass
    Then the combined stream reports scans only of "Val-1" and "Val-2"

  @req:AC-FILT-010 @needs:combined-scan-211 @needs:world-control
  Scenario: filter_duplicates=1 reports each device once
    Given a peripheral "HR-1" 2 m from router "A" with:
      | advertising interval | 200 ms |
    When a client opens the combined scan on router "A" with:
      | filter_duplicates | 1 |
    And 5 seconds pass
    Then the combined stream reports "HR-1" at most once per router

  @req:AC-FILT-011 @needs:combined-scan-211 @needs:world-control
  Scenario: filter_duplicates over 1000 ms reports each device once per period
    Given a peripheral "HR-1" 2 m from router "A" with:
      | advertising interval | 200 ms |
    When a client opens the combined scan on router "A" with:
      | filter_duplicates | 3000 |
    And 7.5 seconds pass
    Then the combined stream reports "HR-1" at least 2 times
    And the combined stream reports "HR-1" at most 3 times

  @req:AC-FILT-012 @needs:combined-scan-211 @needs:world-control
  Scenario: timestamp=1 stamps every scan message
    Given a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined scan on router "A" with:
      | timestamp | 1 |
    And 3 seconds pass
    Then every scan message carries a timestamp

  @req:AC-FILT-013 @needs:combined-scan-211 @needs:world-control
  Scenario: connectable=1 keeps the connectable advertisers
    Given a peripheral "Conn" 2 m from router "A"
    And a beacon "Beacon" 2 m from router "A"
    When a client opens the combined scan on every router with:
      | connectable | 1 |
    And 4 seconds pass
    Then the combined stream reports scans only of "Conn"

  @req:AC-FILT-014 @needs:combined-scan-211 @needs:world-control
  Scenario: report_interval reports each device once per interval
    Given a peripheral "HR-1" 2 m from router "A" with:
      | advertising interval | 200 ms |
    When a client opens the combined scan on router "A" with:
      | report_interval | 2000 |
    And 5 seconds pass
    Then the combined stream reports "HR-1" at least 1 times
    And the combined stream reports "HR-1" at most 3 times

  @req:AC-FILT-015 @needs:combined-scan
  Scenario: beacon, which the table gives no combined-stream firmware, is refused
    When a client opens the combined scan on every router with:
      | beacon | 1 |
    Then the answer is 400 saying "beacon"
