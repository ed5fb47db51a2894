@profile_device2
Feature: Device data: publishData, queries and aggregates, exact against what devices wrote
  Every value a device writes is found by the raw queries (queryResource, querySignal,
  querySignals, latestSignalsSearch) and the aggregates (aggrqueryResource, aggrquerySignal,
  aggrquerySignals) equal the values' own sums, counts, minima and maxima.

  Background:
    Given the operator has called "addResource" with {"alias": "temperature", "format": "number"}

  @req:D2-DATA-001
  Scenario Outline: Every value <protocol> devices write is found by the queries
    Given <article> <protocol> device "a" with identity "dev-a" reporting "temperature" from 1 every 10 seconds is switched on
    And <article> <protocol> device "b" with identity "dev-b" reporting "temperature" from 100 every 10 seconds is switched on
    When 300 seconds pass
    Then "a" has written 30 values
    And every value "a" wrote is found by "queryResource"
    And every value "b" wrote is found by "querySignal"
    And every value "a" wrote is found by "querySignals"
    And the latest value of "b" is what "latestSignalsSearch" gives

    Examples:
      | article | protocol |
      | an      | HTTP     |
      | an      | MQTT     |

  @req:D2-DATA-002
  Scenario Outline: The <bucket> aggregates equal the written values' own sums and counts
    Given an HTTP device "a" with identity "dev-a" reporting "temperature" from 1 every 10 seconds is switched on
    And an MQTT device "b" with identity "dev-b" reporting "temperature" from 0.5 by 0.25 every 10 seconds is switched on
    When 900 seconds pass
    Then the "<bucket>" aggregates by "aggrqueryResource" equal the values "a" and "b" wrote
    And the "<bucket>" aggregates by "aggrquerySignal" equal the values "a" wrote
    And the "<bucket>" aggregates by "aggrquerySignals" equal the values "b" wrote

    Examples:
      | bucket |
      | 1m     |
      | 5m     |
      | 1h     |

  @req:D2-DATA-003
  Scenario: publishData stores timed points that the queries return in order
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    When the operator publishes for "dev1" the values 5, 6 and 7 of "temperature", 30 seconds apart, ending a minute ago
    Then the answer is 204
    When the operator queries "queryResource" for "dev1" in ascending order
    Then the queried values are 5, 6 and 7

  @req:D2-DATA-004
  Scenario: Queries page with limit and page
    Given an HTTP device "a" with identity "dev-a" reporting "temperature" from 1 every 10 seconds is switched on
    When 100 seconds pass
    And the operator queries "queryResource" for "dev-a" in ascending order with {"limit": 4, "page": 2}
    Then the queried values are 5, 6, 7 and 8

  @req:D2-DATA-005
  Scenario: Signal subscribers are listed for a signal and for signals
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    When the operator calls "querySignalSubscribers" with {"identity": "dev1", "signal": "temperature"}
    Then the answer is 200
    And the answer's "data" is []
    When the operator calls "querySignalsSubscribers" with {"identity": "dev1", "signals": ["temperature"]}
    Then the answer is 200
    And the answer's "data" is []

  @req:D2-MET-001
  Scenario: getDeviceMetrics counts devices by status over a window
    Given the operator has called "addIdentity" with {"identity": "w1"}
    And the operator has called "addIdentity" with {"identity": "w2"}
    And an HTTP device "d1" with identity "p1" is switched on
    And 1 second passes
    When the operator calls "getDeviceMetrics" with {"metric_name": "provisioned", "aggregate_window": "1m"}
    Then the answer is 200
    And the metric values add up to 1
    When the operator calls "getDeviceMetrics" with {"metric_name": "whitelisted", "aggregate_window": "1h"}
    Then the metric values add up to 3
