@profile_ble_ac
Feature: Router calls through the controller (/api/<call>?mac=<gateway-mac>)
  Every router call has an "AC Managed" form: the same call under /api, with the router named
  by mac=<gateway-mac>. The controller makes it on that router and answers as the router did;
  streams are relayed.

  @req:AC-ROUTE-001 @needs:router-calls
  Scenario: A router's configuration through the controller
    When a client asks router "B" for its configuration
    Then the answer is the configuration of router "B"

  @req:AC-ROUTE-002 @needs:router-calls @needs:world-control
  Scenario: A router's scan stream through the controller
    Given a peripheral "HR-1" 2 m from router "A"
    When a client opens the scan stream of router "A"
    Then the scan stream of router "A" reports "HR-1" heard from nearby within 5 seconds

  @req:AC-ROUTE-003 @req:AC-ROUTE-004 @needs:router-calls @needs:world-control
  Scenario: Connect, list and disconnect a device through the controller
    Given a peripheral "HR-1" 2 m from router "A"
    When a client connects "HR-1" through router "A"
    Then the answer is 200
    And router "A" lists "HR-1" as connected
    And router "B" does not list "HR-1" as connected
    And the world has "HR-1" linked to router "A" only
    When a client disconnects "HR-1" through router "A"
    Then the answer is 200
    And router "A" does not list "HR-1" as connected

  @req:AC-ROUTE-005 @req:AC-ROUTE-006 @needs:router-calls @needs:world-control
  Scenario: GATT discovery and a read through the controller
    Given a peripheral "HR-1" 2 m from router "A"
    When a client connects "HR-1" through router "A"
    And a client discovers the services of "HR-1" through router "A"
    Then the services include "180D"
    And the world has "HR-1" linked to router "A" only
    When a client reads the heart rate of "HR-1" through router "A"
    Then the answer is a value read

  @req:AC-ROUTE-006 @req:AC-ROUTE-007 @needs:router-calls @needs:world-control
  Scenario: Notifications enabled and streamed through the controller
    Given a peripheral "HR-1" 2 m from router "A"
    When a client opens the notification stream of router "A"
    And a client connects "HR-1" through router "A"
    And a client enables the notifications of "HR-1" through router "A"
    Then the notification stream of router "A" reports "HR-1" within 5 seconds
    And the world has "HR-1" linked to router "A" only

  @req:AC-ROUTE-008 @needs:router-calls @needs:world-control
  Scenario: The connection-state stream through the controller
    Given a peripheral "HR-1" 2 m from router "B"
    When a client opens the connection-state stream of router "B"
    And a client connects "HR-1" through router "B"
    Then the connection-state stream of router "B" reports "HR-1" connected within 5 seconds
    And the world has "HR-1" linked to router "B" only

  @req:AC-ROUTE-009 @needs:router-calls @needs:world-control
  Scenario: Just Works pairing through the controller
    Given a peripheral "HR-1" 2 m from router "A"
    When a client connects "HR-1" through router "A"
    And a client pairs with "HR-1" through router "A"
    Then the pairing answer is "Pairing Successful"
    And the world has "HR-1" linked to router "A" only

  @req:AC-ROUTE-010 @needs:router-calls @needs:world-control
  Scenario: RSSI of a link and the RSSI stream through the controller
    Given a peripheral "HR-1" 3 m from router "A"
    When a client connects "HR-1" through router "A"
    And a client reads the RSSI of "HR-1" through router "A"
    Then the answer is an RSSI reading of "HR-1"
    And the world has "HR-1" linked to router "A" only
    When a client opens the RSSI stream of router "A"
    Then the RSSI stream of router "A" reports "HR-1" within 5 seconds

  @req:AC-ROUTE-011 @needs:router-calls @needs:world-control
  Scenario: Batch connection through the controller
    Given a peripheral "HR-1" 2 m from router "C"
    When a client batch-connects "HR-1" through router "C"
    Then the answer is 200
    Given 8 seconds pass
    Then router "C" lists "HR-1" as connected
    And the world has "HR-1" linked to router "C" only
    When a client empties the batch-connect queue of router "C"
    Then the answer is 200

  @req:AC-ROUTE-012 @needs:router-calls
  Scenario: A router's advertising started and stopped through the controller
    When a client makes router "B" advertise through the controller
    Then the answer is 200
    When a client stops the advertising of router "B" through the controller
    Then the answer is 200

  @req:AC-ROUTE-012 @needs:router-calls @needs:world-control
  Scenario: The router named advertises on the air, and stops
    When a client makes router "B" advertise through the controller
    Then the answer is 200
    And the world has router "B" advertising, and no other
    When a client stops the advertising of router "B" through the controller
    Then the answer is 200
    And the world has no router advertising

  @req:AC-ROUTE-014 @needs:router-calls
  Scenario: A router call without mac= is refused, naming the parameter
    When a client asks for a router's configuration without naming the router
    Then the answer is 400 saying "mac"

  @req:AC-ROUTE-015 @needs:router-calls
  Scenario: A router call to a router the controller does not know is refused
    When a client asks a router the controller does not know for its configuration
    Then the answer is 404
