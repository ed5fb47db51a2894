@profile_ble_ac
Feature: Router status through the controller (hubs, hubs/<mac>, hubStatus)
  "GET /api/cassia/hubs" lists the online routers, "GET /api/cassia/hubs/<gateway-mac>" tells
  one router's status, online or offline, and "GET /api/cassia/hubStatus" streams every change.

  @req:AC-HUB-001 @needs:hubs
  Scenario: Every online router is listed with the documented fields
    When a client lists the routers
    Then the list has every router online with the documented fields

  @req:AC-HUB-002 @needs:hubs
  Scenario: One router's status, online
    When a client asks for the status of router "A"
    Then the answer is router "A" online, with the documented fields

  @req:AC-HUB-003 @req:AC-HUB-008 @needs:hubs @needs:router-faults
  Scenario: A router whose uplink is cut is offline, and no longer listed as online
    Given the uplink of router "B" is cut
    And 30 seconds pass
    When a client asks for the status of router "B"
    Then the answer is router "B" offline, with the documented fields
    When a client lists the routers
    Then the list does not have router "B"

  @req:AC-HUB-004 @needs:hubs
  Scenario: A router the controller does not know is refused
    When a client asks for the status of a router the controller does not know
    Then the answer is 404

  @req:AC-HUB-005 @req:AC-HUB-006 @needs:hub-status @needs:router-faults
  Scenario: The status stream reports a router going offline and coming back
    When a client opens the hub status stream
    And the uplink of router "A" is cut
    Then the hub status stream reports router "A" offline within 30 seconds
    When the uplink of router "A" heals
    Then the hub status stream reports router "A" online within 30 seconds
    And every online message of the hub status stream has the documented fields
    And every offline message of the hub status stream names the router's mac

  @req:AC-HUB-007 @needs:hub-status
  Scenario: The status stream starts with every router's status
    When a client opens the hub status stream
    Then the hub status stream reports router "A" online within 2 seconds
    And the hub status stream reports router "B" online within 2 seconds
    And the hub status stream reports router "C" online within 2 seconds
