@profile_mqtt_gateway
Feature: A gateway's claim requests have the seed's shape (SUT = a gateway)

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-CLAIM-001 @needs:mqtt-gateway-claim
  Scenario: A device offered for claiming goes to v1/gateway/claim with its key and duration
    When the gateway offers "Meter 1" for claiming with the key "s3cret" for 60000 ms
    Then within 10 seconds the gateway publishes on v1/gateway/claim {"Meter 1": {"secretKey": "s3cret", "durationMs": 60000}}
    And the platform offers "Meter 1" for claiming with the key "s3cret" for 60000 ms
