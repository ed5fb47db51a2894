@profile_device2
Feature: Gateway events: connect, disconnect, data_in, provisioned, expired, deleted
  The service emits an event for each of these transactions, with the fields the seed lists
  (ip, type, payload for data_in, identity, protocol, timestamp, connection_id,
  updated_resources); the harness reads them from the management API's event stream.

  @req:D2-EVT-001
  Scenario: An MQTT device's session is provisioned, connect, data_in, disconnect, in order
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    And an MQTT device "m1" with identity "dev1" at "192.0.2.31" reporting "temperature" from 7 every 10 seconds is switched on
    And 1 second passes
    When "m1" is switched off
    And 1 second passes
    Then the events for "dev1" are "provisioned", "connect", "data_in" and "disconnect"
    And the "connect" event for "dev1" has the fields "ip", "type", "identity", "protocol", "timestamp" and "connection_id"
    And the "connect" event for "dev1" has "ip" "192.0.2.31"
    And the "connect", "data_in" and "disconnect" events for "dev1" share one connection_id

  @req:D2-EVT-002
  Scenario: A data_in event carries the payload with µs timestamps and the updated resources
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    And an HTTP device "d1" with identity "dev1" reporting "temperature" from 21 every 10 seconds is switched on
    And 1 second passes
    Then the "data_in" event for "dev1" carries {"temperature": "21"}
    And the "data_in" event for "dev1" has "updated_resources" ["temperature"]
    And the "data_in" event for "dev1" has a payload timestamp in microseconds

  @req:D2-EVT-003
  Scenario: Data for an alias without a resource still emits data_in, but updates no state
    Given an HTTP device "d1" with identity "dev1" reporting "undefined_alias" from 1 every 10 seconds is switched on
    And 1 second passes
    Then the "data_in" event for "dev1" carries {"undefined_alias": "1"}
    And the "data_in" event for "dev1" has "updated_resources" []

  @req:D2-EVT-004
  Scenario: The expired event names the identity whose window closed when it tried
    Given the operator whitelists "late" with a provisioning window of 5 seconds
    And 6 seconds pass
    When an HTTP device "d1" with identity "late" at "192.0.2.44" is switched on
    And 1 second passes
    Then an "expired" event for "late" was emitted
    And the "expired" event for "late" has "ip" "192.0.2.44"

  @req:D2-EVT-005
  Scenario: Removing an identity emits deleted
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    When the operator calls "removeIdentity" with {"identity": "dev1"}
    Then a "deleted" event for "dev1" was emitted
