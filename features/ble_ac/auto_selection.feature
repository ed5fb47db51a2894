@profile_ble_ac
Feature: Router auto-selection (ap-select-switch, connections/connect, connections/disconnect)
  "Cassia AC can select one gateway automatically from a list of candidates, and then connect
  the BLE device by using this gateway. The selection is based on RSSI, gateway load, and
  gateway capabilities."

  @req:AC-SEL-001 @needs:auto-selection
  Scenario: The switch answers success with its flag
    When a client switches auto-selection on
    Then the switch answers success with flag 1
    When a client switches auto-selection off
    Then the switch answers success with flag 0

  @req:AC-SEL-003 @req:AC-SEL-005 @needs:auto-selection @needs:world-control
  Scenario: The router hearing the device best connects it
    Given auto-selection is on
    And a peripheral "HR-1" 3 m from router "B"
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router
    Then the auto-connection is accepted
    And "HR-1" is connected through router "B" only

  @req:AC-SEL-004 @needs:auto-selection @needs:world-control
  Scenario: Only the routers listed in aps are candidates
    Given auto-selection is on
    And a peripheral "HR-1" 3 m from router "B"
    And 3 seconds pass
    When a client auto-connects "HR-1" through routers "A" and "C"
    Then the auto-connection is accepted
    And "HR-1" is connected through router "A" only

  @req:AC-SEL-006 @needs:auto-selection @needs:world-control
  Scenario: Between two routers that hear the device alike, the less loaded connects it
    Given auto-selection is on
    And 4 peripherals "Busy-" 2 m from router "A"
    And router "A" holds links to "Busy-" 1 to 4
    And a peripheral "HR-1" halfway between routers "A" and "B"
    And 3 seconds pass
    When a client auto-connects "HR-1" through routers "A" and "B"
    Then the auto-connection is accepted
    And "HR-1" is connected through router "B" only

  @req:AC-SEL-007 @needs:auto-selection @needs:world-control
  Scenario: A device no candidate hears is not connected, within the timeout
    Given auto-selection is on
    And a peripheral "HR-1" 3 m from router "B"
    And "HR-1" is powered off
    When a client auto-connects "HR-1" through every router with:
      | timeout | 3000 |
    Then the answer is refused with a message
    And "HR-1" is connected through no router

  @req:AC-SEL-011 @needs:auto-selection @needs:world-control
  Scenario: The disconnect API ends the auto-selected link
    Given auto-selection is on
    And a peripheral "HR-1" 3 m from router "C"
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router
    Then "HR-1" is connected through router "C" only
    When a client auto-disconnects "HR-1"
    Then the answer is 200
    And "HR-1" is connected through no router

  @req:AC-SEL-012 @needs:auto-selection @needs:world-control
  Scenario: With auto-selection off the connect API is refused
    Given a peripheral "HR-1" 3 m from router "B"
    When a client auto-connects "HR-1" through every router
    Then the answer is refused with a message
    And "HR-1" is connected through no router

  @req:AC-SEL-013 @needs:auto-selection @needs:world-control
  Scenario: discovergatt=0: the router reads the device's GATT database afresh
    Given auto-selection is on
    And a peripheral "HR-1" 3 m from router "B"
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router with:
      | discovergatt | 0 |
    Then the auto-connection is accepted
    When a client discovers the services of "HR-1" through router "B"
    Then the services include "180D"

  @req:AC-SEL-008 @needs:auto-selection @needs:world-control
  Scenario: The RSSI rule disconnects a device heard too weakly five times in a row
    Given auto-selection is on
    And a peripheral "HR-1" 3 m from router "A"
    And 3 seconds pass
    When a client auto-connects "HR-1" through every router with:
      | rssi          | -60  |
      | rssi_interval | 1000 |
    Then "HR-1" is connected through router "A" only
    When "HR-1" moves to 15 m from router "A"
    And 9 seconds pass
    Then "HR-1" is connected through no router
