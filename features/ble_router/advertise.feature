@profile_ble_router
Feature: The router advertises (GET /advertise/start and /advertise/stop)
  interval 20..10000 ms (default 500), ad_type 0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_SCAN_IND,
  3 ADV_NONCONN_IND (default), 4 SCAN_RSP; ad_data and resp_data are hex. Another scanner in
  the world hears what the router sends.

  @req:BLE-ADV-001 @req:BLE-ADV-003 @needs:advertise
  Scenario Outline: A scanner hears the router advertise with the type, data and interval asked
    Given a scanner in the world at 3 m from the router
    When the client starts advertising with "interval=200&ad_type=<ad_type>&ad_data=0201060709526F75746572<resp>"
    And 2 seconds pass
    Then the scanner hears the router advertise "0201060709526F75746572" as <evt> between 8 and 11 times

    Examples:
      | ad_type | evt             | resp |
      | 0       | ADV_IND         |      |
      | 2       | ADV_SCAN_IND    |      |
      | 3       | ADV_NONCONN_IND |      |

  @req:BLE-ADV-004 @needs:advertise
  Scenario Outline: resp_data is sent as the scan response of a scannable advertisement
    Given a scanner in the world at 3 m from the router
    When the client starts advertising with "interval=100&ad_type=<ad_type>&ad_data=020106&resp_data=05FF3412ABCD"
    And 1 second passes
    Then the scanner hears the router advertise "020106" as <evt> between 8 and 11 times
    And the scanner receives the router's scan response "05FF3412ABCD"

    Examples:
      | ad_type | evt          |
      | 0       | ADV_IND      |
      | 4       | ADV_SCAN_IND |

  @req:BLE-ADV-001 @needs:advertise
  Scenario: Without interval and ad_type the router sends ADV_NONCONN_IND every 500 ms
    Given a scanner in the world at 3 m from the router
    When the client starts advertising with "ad_data=020106"
    And 5 seconds pass
    Then the scanner hears the router advertise "020106" as ADV_NONCONN_IND between 9 and 11 times
    And the scanner receives no scan response from the router

  @req:BLE-ADV-002 @needs:advertise
  Scenario: /advertise/stop ends the advertising
    Given a scanner in the world at 3 m from the router
    When the client starts advertising with "interval=100&ad_data=020106"
    And 1 second passes
    And the client stops advertising
    Then the scanner hears nothing from the router for 2 seconds

  @req:BLE-ADV-005 @needs:advertise
  Scenario Outline: Out-of-range or malformed advertising parameters are refused with 400
    When the client sends "GET /advertise/start?<query>"
    Then the request is refused as bad input mentioning "<mentions>"

    Examples:
      | query                          | mentions  |
      | interval=19&ad_data=020106     | interval  |
      | interval=10001&ad_data=020106  | interval  |
      | ad_type=5&ad_data=020106       | ad_type   |
      | interval=500                   | ad_data   |
      | ad_data=02010                  | ad_data   |
      | ad_data=XYZ0                   | XYZ0      |
      | ad_data=020106&resp_data=0G    | resp_data |
