@profile_ble_ac
Feature: The combined stream (GET /api/aps/events)
  One stream for all routers: a state message first, then scan data, notifications, connection
  states and router states, as opened and closed by the scan, notify, connection-state and
  ap-state APIs; a keep-alive message every 30 seconds.

  @req:AC-COMB-001 @needs:combined
  Scenario: The stream starts with a state message listing every router
    When a client opens the combined stream
    Then the combined stream starts with a state message listing every router

  @req:AC-COMB-002 @needs:combined @needs:world-control
  Scenario: The state message lists the connected devices
    Given a peripheral "HR-1" 2 m from router "A"
    When a client connects "HR-1" through router "A"
    And 2 seconds pass
    And a client opens the combined stream
    Then the state message lists "HR-1" as connected

  @req:AC-COMB-003 @needs:combined
  Scenario: A keep-alive message every 30 seconds
    When a client opens the combined stream
    And 95 seconds pass
    Then the combined stream carries a keep-alive message every 30 seconds

  @req:AC-COMB-004 @req:AC-COMB-005 @needs:combined @needs:combined-scan @needs:world-control
  Scenario: An open scan brings every router's scan data, with the documented fields
    Given a peripheral "HR-1" 2 m from router "A"
    And a peripheral "HR-2" 2 m from router "B"
    When a client opens the combined stream
    And a client opens the combined scan on every router
    Then the answer is 200
    And the combined stream reports "HR-1" from router "A" within 5 seconds
    And the combined stream reports "HR-2" from router "B" within 5 seconds
    And every scan message has the documented fields

  @req:AC-COMB-007 @needs:combined @needs:combined-scan @needs:world-control
  Scenario: Only the routers named in aps scan
    Given a peripheral "HR-1" 2 m from router "A"
    And a peripheral "HR-2" 2 m from router "B"
    When a client opens the combined stream
    And a client opens the combined scan on router "A"
    And 5 seconds pass
    Then the combined stream reports "HR-1" from router "A" within 1 seconds
    And the combined stream reports no scan from router "B"

  @req:AC-COMB-006 @needs:combined @needs:combined-scan @needs:world-control
  Scenario: A closed scan brings no more scan data
    Given a peripheral "HR-1" 2 m from router "A"
    When a client opens the combined stream
    And a client opens the combined scan on every router
    Then the combined stream reports "HR-1" from router "A" within 5 seconds
    When a client closes the combined scan on every router
    Then the answer is 200
    And no scan message arrives 5 seconds after the switch

  @req:AC-COMB-008 @needs:combined @needs:world-control
  Scenario: Notifications of every router come on the combined stream
    Given a peripheral "HR-1" 2 m from router "B"
    When a client opens the combined stream
    And a client connects "HR-1" through router "B"
    And a client enables the notifications of "HR-1" through router "B"
    Then the combined stream reports notifications of "HR-1" from router "B" within 5 seconds

  @req:AC-COMB-009 @needs:combined @needs:world-control
  Scenario: Notifications of a router are closed and opened again
    Given a peripheral "HR-1" 2 m from router "B"
    When a client opens the combined stream
    And a client connects "HR-1" through router "B"
    And a client enables the notifications of "HR-1" through router "B"
    And a client closes the notification reports of router "B"
    Then the answer is 200
    And no notification message of router "B" arrives 5 seconds after the switch
    When a client opens the notification reports of router "B"
    Then the answer is 200
    And the combined stream reports notifications of "HR-1" from router "B" within 5 seconds

  @req:AC-COMB-010 @needs:combined @needs:world-control
  Scenario: Connection states of every router come on the combined stream
    Given a peripheral "HR-1" 2 m from router "C"
    When a client opens the combined stream
    And a client connects "HR-1" through router "C"
    Then the combined stream reports "HR-1" connected on router "C" within 5 seconds
    When a client disconnects "HR-1" through router "C"
    Then the combined stream reports "HR-1" disconnected on router "C" within 5 seconds

  @req:AC-COMB-011 @needs:combined @needs:world-control
  Scenario: Connection states of a router are closed
    Given a peripheral "HR-1" 2 m from router "C"
    When a client opens the combined stream
    And a client closes the connection-state reports of router "C"
    And 2 seconds pass
    And a client connects "HR-1" through router "C"
    Then no connection message of router "C" arrives 3 seconds after the switch
    When a client opens the connection-state reports of router "C"
    And a client disconnects "HR-1" through router "C"
    Then the combined stream reports "HR-1" disconnected on router "C" within 5 seconds

  @req:AC-COMB-013 @needs:combined @needs:router-faults
  Scenario: Router states are closed
    When a client opens the combined stream
    And a client closes the router state reports
    Then the answer is 200
    When the uplink of router "A" is cut
    And 30 seconds pass
    Then the combined stream reports no router state of "A"
    When a client opens the router state reports
    And the uplink of router "A" heals
    Then the combined stream reports router "A" online within 30 seconds
