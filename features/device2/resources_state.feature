@profile_device2
Feature: Resources and settable state: a set stays pending until the device acknowledges it
  Resources define what devices report; a settable resource's "set" value goes to the device
  and, with sync (the default), is applied only when the device writes it back.

  @req:D2-RES-001
  Scenario: addResource defines a resource that getGatewayResource and the list describe
    When the operator calls "addResource" with {"alias": "temperature", "format": "number", "unit": "°C"}
    Then the answer is 204
    When the operator calls "getGatewayResource" with {"alias": "temperature"}
    Then the answer's "format" is "number"
    And the answer's "unit" is "°C"
    And the answer's "settable" is false
    And the answer's "sync" is true
    When the operator calls "getGatewayResourceList"
    Then the answer's "temperature.format" is "number"

  @req:D2-RES-002
  Scenario: updateResource changes a definition; a second addResource of the same alias is 409
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    When the operator calls "updateResource" with {"alias": "temperature", "unit": "K"}
    Then the answer is 204
    When the operator calls "getGatewayResource" with {"alias": "temperature"}
    Then the answer's "unit" is "K"
    When the operator calls "addResource" with {"alias": "temperature", "format": "string"}
    Then the answer is 409 naming "alias"

  @req:D2-STATE-001
  Scenario: A device's report is the reported and set value of a defined resource
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    And an HTTP device "d1" with identity "dev1" reporting "temperature" from 20 every 10 seconds is switched on
    And 1 second passes
    When the operator calls "getIdentityState" with {"identity": "dev1"}
    Then the answer's "temperature.reported" is 20
    And the answer's "temperature.set" is 20

  @req:D2-STATE-002
  Scenario Outline: A set stays pending until the <protocol> device acknowledges it
    Given the operator has called "addResource" with {"alias": "config_io", "format": "string", "settable": true}
    And <article> <protocol> device "d1" with identity "dev1" watching "config_io" that does not acknowledge sets is switched on
    And 2 seconds pass
    When the operator calls "setIdentityState" with {"identity": "dev1", "config_io": "v2"}
    Then the answer is 204
    When 2 seconds pass
    Then "d1" has applied "config_io" = "v2"
    When the operator calls "getIdentityState" with {"identity": "dev1"}
    Then the answer's "config_io.set" is "v2"
    And the answer's "config_io.reported" is not "v2"
    When "d1" acknowledges "config_io"
    And 1 second passes
    And the operator calls "getIdentityState" with {"identity": "dev1"}
    Then the answer's "config_io.reported" is "v2"

    Examples:
      | article | protocol |
      | an      | HTTP     |
      | an      | MQTT     |

  @req:D2-STATE-003
  Scenario: A device that acknowledges applies the set at once
    Given the operator has called "addResource" with {"alias": "config_io", "format": "string", "settable": true}
    And an MQTT device "m1" with identity "dev1" is switched on
    And 1 second passes
    When the operator calls "setIdentityState" with {"identity": "dev1", "config_io": "eco"}
    And 1 second passes
    Then "m1" has applied "config_io" = "eco"
    When the operator calls "getIdentityState" with {"identity": "dev1"}
    Then the answer's "config_io.reported" is "eco"

  @req:D2-STATE-004
  Scenario: Without sync a set is applied at once, reported too
    Given the operator has called "addResource" with {"alias": "mode", "format": "string", "settable": true, "sync": false}
    And the operator has called "addIdentity" with {"identity": "dev1"}
    When the operator calls "setIdentityState" with {"identity": "dev1", "mode": "eco"}
    And the operator calls "getIdentityState" with {"identity": "dev1"}
    Then the answer's "mode.set" is "eco"
    And the answer's "mode.reported" is "eco"

  @req:D2-STATE-005
  Scenario: A resource that is not settable cannot be set
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    And the operator has called "addIdentity" with {"identity": "dev1"}
    When the operator calls "setIdentityState" with {"identity": "dev1", "temperature": 5}
    Then the answer is 409 naming "temperature"

  @req:D2-STATE-006
  Scenario: A report before the device read the pending set discards the set
    Given the operator has called "addResource" with {"alias": "level", "format": "number", "settable": true}
    And the operator has called "addIdentity" with {"identity": "dev1"}
    And the operator has called "setIdentityState" with {"identity": "dev1", "level": 7}
    When an HTTP device "d1" with identity "dev1" reporting "level" from 3 every 10 seconds is switched on
    And 1 second passes
    And the operator calls "getIdentityState" with {"identity": "dev1"}
    Then the answer's "level.set" is 3
    And the answer's "level.reported" is 3

  @req:D2-STATE-007
  Scenario: Sets made while an MQTT device was offline reach it when it connects
    Given the operator has called "addResource" with {"alias": "config_io", "format": "string", "settable": true}
    And an MQTT device "m1" with identity "dev1" is switched on
    And 1 second passes
    And "m1" is switched off
    When the operator calls "setIdentityState" with {"identity": "dev1", "config_io": "night"}
    And "m1" is switched on
    And 2 seconds pass
    Then "m1" has applied "config_io" = "night"
