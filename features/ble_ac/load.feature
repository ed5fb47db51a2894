@profile_ble_ac @load
Feature: Load on the combined stream
  "These APIs simplify the handling of multiple gateways. They also improve the scalability of
  AC in terms of the number of gateways supported in given hardware resources." (hil bench
  ble-ac measures 10 routers and 2,000 peripherals.)

  @req:AC-LOAD-001 @needs:load @needs:world-control
  Scenario: Every one of 150 advertisers is reported on the one combined stream
    Given 150 peripherals spread over the routers' area
    And a client opens the combined stream
    When a client opens the combined scan on every router with:
      | filter_duplicates | 1 |
    And 5 seconds pass
    Then the combined stream reports every one of the 150 peripherals
