@profile_ble_ac
Feature: Auto-selection's scan filters (scan_params, the seed's support table)
  "By specifying scan_params when calling this API, you can filter scanned data based on device
  MAC, RSSI, name, and UUID." The support table: filter_uuid, filter_rssi, filter_mac,
  filter_name (exact, prefix, suffix) and filter_value with an offset from 2.0.3; filter_value
  without offset and connectable from 2.1.1; timestamp and beacon not for auto-selection.

  @req:AC-SEL-002 @needs:auto-selection @needs:world-control
  Scenario: filter_mac: only the listed devices are candidates for auto-selection
    Given a peripheral "HR-1" 3 m from router "B"
    And a peripheral "HR-2" 3 m from router "C"
    And auto-selection is on with scan_params:
      | filter_mac | ["${HR-1}"] |
    And 3 seconds pass
    When a client auto-connects "HR-2" through every router with:
      | timeout | 3000 |
    Then the answer is refused with a message
    When a client auto-connects "HR-1" through every router
    Then the auto-connection is accepted
    And "HR-1" is connected through router "B" only

  @req:AC-SFILT-001 @needs:auto-selection @needs:world-control
  Scenario: filter_rssi: a router hearing the device weaker than the threshold is no candidate
    Given a peripheral "HR-1" 3 m from router "B"
    And auto-selection is on with scan_params:
      | filter_rssi | -60 |
    And 3 seconds pass
    When a client auto-connects "HR-1" through routers "A" and "C"
    Then the answer is refused with a message
    When a client auto-connects "HR-1" through every router
    Then "HR-1" is connected through router "B" only

  @req:AC-SFILT-002 @needs:auto-selection @needs:world-control
  Scenario: filter_name with a prefix
    Given a peripheral "Tag-1" 3 m from router "B"
    And a peripheral "HR-1" 3 m from router "C"
    And auto-selection is on with scan_params:
      | filter_name | Tag* |
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router with:
      | timeout | 3000 |
    Then the answer is refused with a message
    When a client auto-connects "Tag-1" through every router
    Then "Tag-1" is connected through router "B" only

  @req:AC-SFILT-003 @needs:auto-selection @needs:world-control
  Scenario: filter_uuid
    Given a peripheral "Svc" 3 m from router "B" with:
      | service uuids | FFF0 |
    And a peripheral "HR-1" 3 m from router "C"
    And auto-selection is on with scan_params:
      | filter_uuid | FFF0 |
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router with:
      | timeout | 3000 |
    Then the answer is refused with a message
    When a client auto-connects "Svc" through every router
    Then "Svc" is connected through router "B" only

  @req:AC-SFILT-004 @needs:auto-selection-211 @needs:world-control
  Scenario: filter_value without an offset
    Given a peripheral "Val" 3 m from router "B" with:
      | advertising data | 02010605FF0A0B0C0D |
    And a peripheral "HR-1" 3 m from router "C"
    And auto-selection is on with scan_params:
      | filter_value | {"data":"0A0B0C"} |
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router with:
      | timeout | 3000 |
    Then the answer is refused with a message
    When a client auto-connects "Val" through every router
    Then "Val" is connected through router "B" only

  @req:AC-SFILT-005 @needs:auto-selection
  Scenario: timestamp, which the table gives no auto-selection firmware, is refused
    When a client switches auto-selection on with scan_params:
      | timestamp | 1 |
    Then the answer is 400 saying "timestamp"
