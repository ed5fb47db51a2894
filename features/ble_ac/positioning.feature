@profile_ble_ac
Feature: Positioning (room-based: the closest router of each device)
  "Before calling any positioning APIs, please call scan API for the related gateways."

  Background:
    Given a peripheral "HR-1" 2 m from router "A"
    And a peripheral "HR-2" 3 m from router "B"
    And a peripheral "HR-3" 2 m from router "C"
    And the combined scan is open on every router
    And 5 seconds pass

  @req:AC-POS-001 @needs:positioning @needs:world-control
  Scenario: The closest router of one device
    When a client asks where "HR-2" is
    Then the answer names router "B"

  @req:AC-POS-002 @needs:positioning @needs:world-control
  Scenario: The closest router of every device
    When a client asks where every device is
    Then the answer places "HR-1" at router "A"
    And the answer places "HR-2" at router "B"
    And the answer places "HR-3" at router "C"

  @req:AC-POS-003 @needs:positioning @needs:world-control
  Scenario: The devices around one router
    When a client asks which devices are around router "C"
    Then the answer lists "HR-3"
    And the answer does not list "HR-1"

  @req:AC-POS-004 @needs:positioning @needs:world-control
  Scenario: The devices around every router
    When a client asks which devices are around every router
    Then the answer lists "HR-1" around router "A"
    And the answer lists "HR-2" around router "B"
    And the answer lists "HR-3" around router "C"

  @req:AC-POS-005 @needs:positioning @needs:world-control
  Scenario: A device that moves is located at its new closest router
    When "HR-1" moves to 2 m from router "B"
    And 15 seconds pass
    And a client asks where "HR-1" is
    Then the answer names router "B"

  @req:AC-POS-006 @needs:positioning @needs:world-control
  Scenario: A device no router heard is not located
    Given a peripheral "Ghost" 2 m from router "A"
    And "Ghost" is powered off
    And 15 seconds pass
    When a client asks where "Ghost" is
    Then the answer is 404
