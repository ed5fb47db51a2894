@profile_ble_router
Feature: The RSSI stream of the router's connections (GET /gap/rssi)
  rssi: report only readings lower than this threshold (default 127); rssi_interval: report
  period in ms (default 1000); filter_mac: as the scan stream's filter_mac.

  @req:BLE-RSSI-002 @needs:rssi @needs:world-control
  Scenario: Every connection is reported once per second by default
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 20 m
    And "HR-1" is connected
    And "HR-2" is connected
    When a client opens the RSSI stream
    And 4 seconds pass
    Then the RSSI stream reports "HR-1" between 3 and 5 times
    And the RSSI stream reports "HR-2" between 3 and 5 times

  @req:BLE-RSSI-003 @needs:rssi @needs:world-control
  Scenario: The rssi threshold reports only weaker links, rssi_interval sets the period
    Given a peripheral "HR-1" at 1 m
    And a peripheral "HR-2" at 25 m
    And "HR-1" is connected
    And "HR-2" is connected
    When a client opens the RSSI stream with "rssi=-60&rssi_interval=500"
    And 3 seconds pass
    Then the RSSI stream reports "HR-2" between 5 and 7 times
    And the RSSI stream reports nothing from "HR-1"
    And every RSSI reported on the stream is below -60 dBm

  @req:BLE-RSSI-004 @needs:rssi @needs:world-control
  Scenario: filter_mac limits the report to the devices named
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    And "HR-1" is connected
    And "HR-2" is connected
    When a client opens the RSSI stream with "filter_mac=${HR-2}"
    And 3 seconds pass
    Then the RSSI stream reports "HR-2" between 2 and 4 times
    And the RSSI stream reports nothing from "HR-1"

  @req:BLE-RSSI-005 @needs:rssi
  Scenario Outline: Bad RSSI stream parameters are refused with 400 naming them
    When the client sends "GET /gap/rssi?<query>"
    Then the request is refused as bad input mentioning "<mentions>"

    Examples:
      | query              | mentions      |
      | rssi=loud          | rssi          |
      | rssi_interval=0    | rssi_interval |
      | filter_mac=F0:00:0 | F0:00:0       |
