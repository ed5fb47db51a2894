@profile_ble_ac
Feature: Router outages: an uplink cut, a reboot, a power loss
  Routers come and go; the controller tells in hubs/<mac>, hubStatus and the combined
  stream's ap_state messages, and refuses calls to a router it cannot reach.

  @req:AC-OUT-001 @req:AC-COMB-012 @needs:combined @needs:router-faults
  Scenario: An uplink cut takes the router offline until it heals
    Given a client opens the combined stream
    When the uplink of router "A" is cut
    Then the combined stream reports router "A" offline within 30 seconds
    When the uplink of router "A" heals
    Then the combined stream reports router "A" online within 30 seconds

  @req:AC-OUT-002 @needs:hub-status @needs:router-faults
  Scenario: A rebooted router goes offline and comes back with a fresh uptime
    Given 60 seconds pass
    When a client opens the hub status stream
    And router "B" reboots
    Then the hub status stream reports router "B" offline within 30 seconds
    And the hub status stream reports router "B" online within 30 seconds
    And router "B" reports an uptime below 40 seconds

  @req:AC-OUT-003 @needs:hub-status @needs:router-faults
  Scenario: A router without power stays offline until its power returns
    When a client opens the hub status stream
    And router "C" loses power
    Then the hub status stream reports router "C" offline within 30 seconds
    Given 30 seconds pass
    When a client asks for the status of router "C"
    Then the answer is router "C" offline, with the documented fields
    When router "C" is powered again
    Then the hub status stream reports router "C" online within 30 seconds

  @req:AC-OUT-004 @needs:router-calls @needs:router-faults
  Scenario: A call to an offline router is refused with a message
    Given the uplink of router "A" is cut
    And 30 seconds pass
    When a client asks router "A" for its configuration
    Then the answer is refused with a message
    And the answer is 503

  @req:AC-ROUTE-013 @needs:hub-status @needs:reboot
  Scenario: A router rebooted through the controller goes offline and comes back
    When a client opens the hub status stream
    And a client reboots router "B" through the controller
    Then the answer is 200
    And the hub status stream reports router "B" offline within 30 seconds
    And the hub status stream reports router "B" online within 30 seconds
