@profile_device2 @needs:load
Feature: Load: a fleet provisions within a minute, then reports every 10 s, exactly
  The issue's load is 1,000 devices for an hour of simulated time (`hil bench device2`); the
  scenario runs a tenth of the fleet for ten simulated minutes with the same checks.

  @req:D2-LOAD-001 @slow
  Scenario: 100 HTTP devices provision within a simulated minute and every value lands
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    And 100 HTTP devices provisioning within 60 seconds and reporting every 10 seconds
    When 660 seconds pass
    Then every device provisioned within 60 seconds of the fleet's start
    And every value the fleet wrote is found by the queries
    And the "5m" aggregates equal the fleet's values' own sums and counts

  @req:D2-LOAD-001 @slow
  Scenario: 100 MQTT devices provision within a simulated minute and every value lands
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}
    And 100 MQTT devices provisioning within 60 seconds and reporting every 10 seconds
    When 660 seconds pass
    Then every device provisioned within 60 seconds of the fleet's start
    And every value the fleet wrote is found by the queries
    And the "5m" aggregates equal the fleet's values' own sums and counts
