@profile_device2
Feature: The device APIs: time, historical records, batches, passwords and gateways
  Devices reach the service over the HTTP device API (/timestamp, /onep:v1/stack/record) and
  the MQTT device API ($resource.batch), authenticate with tokens or passwords, and a gateway
  device may publish for the devices it is allowed to publish as.

  Background:
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}

  @req:D2-DEV-001
  Scenario: /timestamp gives the service's time without authentication
    Given an HTTP device "d1" with identity "dev1" that stays switched off
    When "d1" asks the device API for the time
    Then the time it got is the service's time within 2 seconds

  @req:D2-DEV-002
  Scenario: An HTTP device records historical points, found at their own timestamps
    Given an HTTP device "d1" with identity "dev1" is switched on
    And 1 second passes
    When "d1" records "temperature" 11, 12 and 13 at 300, 200 and 100 seconds ago
    Then "d1" got 204
    When the operator queries "queryResource" for "dev1" in ascending order
    Then the queried values are 11, 12, 13 and 1

  @req:D2-DEV-003
  Scenario: An MQTT device publishes a batch with µs timestamps, found at those times
    Given an MQTT device "m1" with identity "dev1" is switched on
    And 1 second passes
    When "m1" publishes a batch of "temperature" 41 and 42 at 120 and 60 seconds ago
    And 1 second passes
    And the operator queries "queryResource" for "dev1" in ascending order
    Then the queried values are 41, 42 and 1

  @req:D2-DEV-004
  Scenario Outline: A password device over <protocol> provisions and reports
    Given the operator has called "addIdentity" with {"identity": "pw1", "auth": {"type": "password"}}
    When <article> <protocol> device "p1" with identity "pw1" and the password "a password of twenty-four" is switched on
    And 25 seconds pass
    Then "p1" has written 3 values
    And "pw1" has status "provisioned"

    Examples:
      | article | protocol |
      | an      | HTTP     |
      | an      | MQTT     |

  @req:D2-DEV-005
  Scenario Outline: A gateway device over <protocol> publishes for a child only when allowed
    Given the operator has called "addIdentity" with {"identity": "child-1"}
    And the operator has called "addIdentity" with {"identity": "child-2"}
    And <article> <protocol> device "gw" with identity "gw1" is switched on
    And 1 second passes
    And the operator has called "updateIdentityPermission" with {"identity": "gw1", "permission": {"publish_as": {"identities": ["child-1"]}}}
    When "gw" publishes {"temperature": 5} as "child-1"
    Then "gw" was not refused
    When "gw" publishes {"temperature": 6} as "child-2"
    Then "gw" was refused
    When the operator calls "getIdentityState" with {"identity": "child-1"}
    Then the answer's "temperature.reported" is 5

    Examples:
      | article | protocol |
      | an      | HTTP     |
