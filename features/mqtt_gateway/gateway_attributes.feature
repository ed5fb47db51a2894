@profile_mqtt_gateway
Feature: A gateway applies shared attributes and matches attribute answers by id (SUT = a gateway)
  Shared attribute updates pushed on v1/gateway/attributes are written to the meter; the
  gateway asks for its devices' shared attributes on v1/gateway/attributes/request (after
  subscribing to v1/gateway/attributes/response) and applies each answer to the device of
  the request with that id.

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-PUSH-001 @needs:mqtt-modbus
  Scenario: A shared attribute update is written to the meter
    When the platform sets the shared setpoint of "Meter 1" to 42.5
    Then within 10 seconds the gateway writes 425 to the setpoint register of "Meter 1"

  @req:MQTT-GW-ATTR-010 @req:MQTT-GW-ATTR-011 @needs:mqtt-attribute-request
  Scenario: After a reconnect each meter gets its own shared setpoint from the answers
    When the platform is unreachable for 5 seconds while it takes the shared setpoint 12.5 for "Meter 1" and 34.5 for "Meter 2"
    Then within 60 seconds the gateway writes 125 to the setpoint register of "Meter 1"
    And within 60 seconds the gateway writes 345 to the setpoint register of "Meter 2"
    And the gateway's attribute requests had integer ids, distinct while in flight, and the fields of the seed
    And the gateway subscribed to v1/gateway/attributes/response before its first attribute request
