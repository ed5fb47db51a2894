@profile_ble_router
Feature: Scanning for BLE devices (GET /gap/nodes?event=1)
  The router reports every advertisement it hears on a Server-Sent Events stream, one JSON
  object per packet: {"name", "evtType", "rssi", "adData", "bdaddrs": [{"bdaddr", "bdaddrType"}]}.
  Passive scanning is the default; active=1 adds the scan responses (evtType 4).

  @req:BLE-SCAN-001 @req:BLE-SCAN-002 @needs:scan @needs:world-control @realwire
  Scenario: The scan stream reports an advertiser with the documented fields
    Given a peripheral "HR-1" at 2 m advertising the name "HR-1"
    When a client opens the scan stream
    And 3 seconds pass
    Then the scan stream is open as an event stream
    And the scan stream reports "HR-1"
    And every scan report has the documented fields name, evtType, rssi, adData and bdaddrs
    And every advertising report from "HR-1" carries the name "HR-1"

  @req:BLE-SCAN-001 @needs:scan @needs:world-control
  Scenario: The scan stream keeps reporting for as long as it is open
    Given a peripheral "HR-1" at 2 m with:
      | advertising interval | 200 ms |
    When a client opens the scan stream
    And 12 seconds pass
    Then the scan stream is open as an event stream
    And the scan stream reports "HR-1" in each of the last 11 seconds

  @req:BLE-SCAN-001 @needs:scan @needs:world-control
  Scenario: Every advertiser in range is reported
    Given 5 standard peripherals in a ring of 3 m
    When a client opens the scan stream
    And 3 seconds pass
    Then the scan stream reports all 5 standard peripherals

  @req:BLE-SCAN-003 @needs:scan @needs:world-control
  Scenario: A report carries the advertiser's address, address type and advertising data
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-P" with a public address at 3 m
    When a client opens the scan stream
    And 3 seconds pass
    Then the scan reports from "HR-1" carry its address and address type
    And the scan reports from "HR-P" carry its address and address type
    And the scan reports from "HR-1" carry its advertising data
    And the scan reports from "HR-P" carry its advertising data

  @req:BLE-SCAN-004 @needs:scan @needs:world-control
  Scenario: evtType tells the advertising PDU type
    Given a peripheral "Conn" at 2 m
    And a peripheral "Scannable" at 2 m with:
      | advertising type | ADV_SCAN_IND |
    And a beacon "Beacon" at 2 m
    When a client opens the scan stream
    And 3 seconds pass
    Then every scan report from "Conn" has evtType 0
    And every scan report from "Scannable" has evtType 2
    And every scan report from "Beacon" has evtType 3

  @req:BLE-SCAN-022 @needs:scan @needs:world-control
  Scenario: Without filter_duplicates every advertising event is reported
    Given a peripheral "HR-1" at 2 m with:
      | advertising interval | 200 ms |
    When a client opens the scan stream
    And 3 seconds pass
    Then the scan stream reports "HR-1" at least 10 times

  @req:BLE-SCAN-005 @needs:scan @needs:world-control
  Scenario: Scanning is passive unless active=1 is asked for
    Given a peripheral "Thermo" at 2 m with its name only in the scan response
    And a peripheral "HR-1" at 3 m
    When a client opens the scan stream
    And 3 seconds pass
    Then the scan stream reports "Thermo" and "HR-1"
    And the scan stream has no scan responses
    And no scan request went on the air

  @req:BLE-SCAN-006 @needs:scan @needs:world-control
  Scenario: Active scanning reports the scan responses of scannable advertisers only
    Given a peripheral "Thermo" at 2 m with its name only in the scan response
    And a beacon "Beacon" at 2 m
    When a client opens the scan stream with "active=1"
    And 3 seconds pass
    Then the scan stream has scan responses from "Thermo"
    And a scan response from "Thermo" carries its scan response data and the name "Thermo"
    And the scan stream reports "Beacon"
    And the scan stream has no scan responses from "Beacon"

  @req:BLE-SCAN-040 @needs:scan @needs:world-control
  Scenario Outline: The reported RSSI follows the distance
    Given a peripheral "HR-1" at <distance> m
    When a client opens the scan stream
    And 10 seconds pass
    Then the median RSSI reported for "HR-1" is between <low> and <high> dBm

    Examples:
      | distance | low | high |
      | 1        | -44 | -36  |
      | 5        | -60 | -51  |
      | 20       | -73 | -64  |
      | 50       | -82 | -73  |

  @req:BLE-SCAN-040 @needs:scan @needs:world-control
  Scenario: A nearer advertiser is reported stronger than a farther one
    Given a peripheral "Near" at 1 m
    And a peripheral "Far" at 30 m
    When a client opens the scan stream
    And 10 seconds pass
    Then "Near" is reported at least 20 dB stronger than "Far"
