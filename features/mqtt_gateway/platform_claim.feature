@profile_mqtt_gateway
Feature: A platform takes claim requests (SUT = a platform)

  @req:MQTT-CLAIM-001 @needs:mqtt-platform-control
  Scenario: Two devices are offered for claiming with their keys and durations
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"Device A": {"secretKey": "value_A", "durationMs": 60000}, "Device B": {"secretKey": "value_B", "durationMs": 30000}} on "v1/gateway/claim"
    Then the platform acknowledged it with reason 0
    And the platform offers "Device A" for claiming with the key "value_A" for 60000 ms
    And the platform offers "Device B" for claiming with the key "value_B" for 30000 ms

  @req:MQTT-CLAIM-002 @needs:mqtt-platform-control
  Scenario: Without a key the key is empty, without a duration the platform's own applies
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"Device A": {}} on "v1/gateway/claim"
    Then the platform acknowledged it with reason 0
    And the platform offers "Device A" for claiming with the key "" for its own duration
