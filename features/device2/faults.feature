@profile_device2
Feature: Faults: the service restarts, a device's link is cut
  A restart of the service loses nothing it acknowledged, and devices carry on; a device whose
  link is cut comes back and its data keeps landing.

  Background:
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}

  @req:D2-FLT-001 @needs:device2-service-restart
  Scenario: A service restart loses no identity, resource or value, and devices carry on
    Given an HTTP device "a" with identity "dev-a" reporting "temperature" from 1 every 10 seconds is switched on
    And an MQTT device "b" with identity "dev-b" reporting "temperature" from 50 every 10 seconds is switched on
    And 35 seconds pass
    When the service restarts
    And 60 seconds pass
    Then "dev-a" has status "provisioned"
    And "a" has written 10 values
    And every value "a" wrote is found by "queryResource"
    And every value "b" wrote is found by "queryResource"
    When the operator calls "getGatewayResource" with {"alias": "temperature"}
    Then the answer is 200

  @req:D2-FLT-002 @needs:device2-link-faults
  Scenario: An MQTT device whose link is cut reconnects and its data lands again
    Given an MQTT device "b" with identity "dev-b" reporting "temperature" from 1 every 10 seconds is switched on
    And 15 seconds pass
    When the link of "b" is cut for 30 seconds
    And 120 seconds pass
    Then "dev-b" is online
    And every value "b" wrote is found by "queryResource"
