@profile_device2
Feature: An identity's lifecycle: whitelisted, provisioned, locked, expired, reprovision, deleted
  The operator whitelists identities through the management API; simulated devices provision
  over the HTTP and MQTT device APIs; the service moves each identity through its statuses,
  in the service's own time, and says so in getIdentity.

  @req:D2-LIFE-001
  Scenario: A whitelisted identity becomes provisioned when its HTTP device activates
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    And "dev1" has status "whitelisted"
    When an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    Then "d1" is provisioned with a 40-character token
    And "dev1" has status "provisioned"

  @req:D2-LIFE-002
  Scenario: A whitelisted identity becomes provisioned when its MQTT device provisions
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    When an MQTT device "m1" with identity "dev1" is switched on
    And 1 second passes
    Then "m1" is provisioned with a 40-character token
    And "dev1" has status "provisioned"
    And the answer's "online" is true

  @req:D2-LIFE-003
  Scenario: A provisioned identity cannot activate a second time
    Given an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    When a device activates "dev1" over HTTP
    Then the device API answers 409

  @req:D2-LIFE-004
  Scenario: A locked identity may not provision over HTTP
    Given the operator has called "addIdentity" with {"identity": "dev1", "locked": true}
    And "dev1" has status "locked"
    When an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    Then "d1" is refused with HTTP 403
    And "dev1" has status "locked"

  @req:D2-LIFE-004
  Scenario: A locked identity may not connect over MQTT, even with valid credentials
    Given an MQTT device "m1" with identity "dev1" is switched on
    And 1 second passes
    And "m1" is switched off
    When the operator calls "updateIdentity" with {"identity": "dev1", "locked": true}
    And "m1" is switched on
    And 1 second passes
    Then "m1" is refused
    And "dev1" has status "locked"

  @req:D2-LIFE-005
  Scenario: Unlocking an identity lets its device in again
    Given the operator has called "addIdentity" with {"identity": "dev1", "locked": true}
    When the operator calls "updateIdentity" with {"identity": "dev1", "locked": false}
    And an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    Then "d1" is provisioned with a 40-character token
    And "dev1" has status "provisioned"

  @req:D2-LIFE-006
  Scenario: A whitelisted identity whose provisioning window passes is expired at its deadline
    Given the operator whitelists "dev1" with a provisioning window of 10 seconds
    When 9 seconds pass
    Then "dev1" has status "whitelisted"
    When 2 seconds pass
    Then "dev1" has status "expired"
    When an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    Then "d1" is refused with HTTP 403
    And an "expired" event for "dev1" was emitted

  @req:D2-LIFE-007
  Scenario: A provisioned identity whose credentials expire must provision again
    Given an HTTP device "d1" with identity "dev1" reporting every 10 seconds is switched on
    And 1 second passes
    When the operator sets the credentials of "dev1" to expire in 5 seconds
    And 6 seconds pass
    Then "dev1" has status "reprovision"
    When 10 seconds pass
    Then "d1" has provisioned 2 times
    And "dev1" has status "provisioned"

  @req:D2-LIFE-008
  Scenario: A removed identity is forgotten, its device refused, and a deleted event sent
    Given the operator has called "updateGatewaySettings" with {"provisioning": {"presenter_identity": false}}
    And the operator has called "addIdentity" with {"identity": "dev1"}
    And an HTTP device "d1" with identity "dev1" reporting every 10 seconds is switched on
    And 1 second passes
    When the operator calls "removeIdentity" with {"identity": "dev1"}
    Then the answer is 205
    And the operator calls "getIdentity" with {"identity": "dev1"}
    And the answer is 404 naming "identity"
    And a "deleted" event for "dev1" was emitted
    When 10 seconds pass
    Then "d1" is refused with HTTP 404

  @req:D2-LIFE-009
  Scenario: With provisioning disabled, devices cannot provision
    Given the operator has called "updateGatewaySettings" with {"provisioning": {"enabled": false}}
    And the operator has called "addIdentity" with {"identity": "dev1"}
    When an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    Then "d1" is refused with HTTP 403
    And "dev1" has status "whitelisted"

  @req:D2-LIFE-010
  Scenario: An unknown identity presented by a device is added when presenter_identity is on
    When an HTTP device "d1" with identity "newcomer" is switched on
    And 1 second passes
    Then "d1" is provisioned with a 40-character token
    And "newcomer" has status "provisioned"

  @req:D2-LIFE-010
  Scenario: Without presenter_identity only whitelisted identities provision
    Given the operator has called "updateGatewaySettings" with {"provisioning": {"presenter_identity": false}}
    When an HTTP device "d1" with identity "stranger" is switched on
    And 1 second passes
    Then "d1" is refused with HTTP 404
    And the operator calls "getIdentity" with {"identity": "stranger"}
    And the answer is 404 naming "identity"

  @req:D2-LIFE-011
  Scenario: A device without an identity gets one generated when generate_identity is on
    Given the operator has called "updateGatewaySettings" with {"provisioning": {"generate_identity": true}, "identity_format": {"type": "uuidv4"}}
    When an HTTP device "d1" without an identity is switched on
    And 1 second passes
    Then "d1" is provisioned with a 40-character token
    And the identity of "d1" is a valid "uuidv4" identity
    And the identity of "d1" has status "provisioned"

  @req:D2-LIFE-012 @needs:device2-certificate
  Scenario: A device with a client certificate provisions on its first write and is identified by its CN
    Given the operator has called "updateGatewaySettings" with {"provisioning": {"auth_type": "certificate"}}
    And the operator has called "addIdentity" with {"identity": "dev1"}
    When an HTTP device "d1" with identity "dev1" and a client certificate is switched on
    And 1 second passes
    Then "dev1" has status "provisioned"
    And "d1" has written 1 value
