@profile_mqtt_gateway
Feature: A gateway tells the platform when a device goes and comes back (SUT = a gateway)

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-DISC-001 @req:MQTT-GW-CONN-001 @needs:mqtt-modbus
  Scenario: A meter that stops answering is disconnected, and connected again when it is back
    When meter "Meter 1" is powered off
    Then within 60 seconds the gateway publishes v1/gateway/disconnect for "Meter 1"
    When meter "Meter 1" is powered on
    Then within 60 seconds the gateway publishes v1/gateway/connect for "Meter 1"
    And the gateway connected each meter before publishing its data
