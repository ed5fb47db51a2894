@profile_ble_ac
Feature: Roaming: a device walking from router A's area to router B's
  With random=1 (roaming) the controller connects the device again through the router that
  hears it best once its link ends (here by the RSSI rule); without roaming it stays where it
  was connected, for as long as that link holds.

  Background:
    Given auto-selection is on
    And a peripheral "Walker" 2 m from router "A"
    And 3 seconds pass

  @req:AC-SEL-009 @needs:roaming @needs:world-control
  Scenario: With roaming on the walker ends up on router B
    When a client auto-connects "Walker" through every router with:
      | random        | 1    |
      | rssi          | -65  |
      | rssi_interval | 1000 |
    Then "Walker" is connected through router "A" only
    When "Walker" walks to 2 m from router "B" over 20 seconds
    Then "Walker" is connected through router "B" within 20 seconds

  @req:AC-SEL-010 @needs:roaming @needs:world-control
  Scenario: With roaming off the walker stays on router A
    When a client auto-connects "Walker" through every router
    Then "Walker" is connected through router "A" only
    When "Walker" walks to 2 m from router "B" over 20 seconds
    Then "Walker" stays connected through router "A" for 20 seconds
