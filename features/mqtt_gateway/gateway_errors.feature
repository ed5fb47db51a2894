@profile_mqtt_gateway
Feature: A gateway handles the platform's refusals (SUT = a gateway)
  Under MQTT 5 the platform says no in the PUBACK: 0x97 "quota exceeded" and 0x83 mean "later",
  0x99 "payload format invalid" means "never" for those bytes.

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-ERR-001 @req:MQTT-GW-LOSS-001 @needs:mqtt-modbus
  Scenario: Quota exceeded makes the gateway back off and send the telemetry again
    When the platform answers the next 2 telemetry messages with 0x97
    And 20 seconds pass
    Then the refused telemetry was sent again no sooner than 0.5 seconds after each refusal
    And no telemetry was lost, duplicated or reordered

  @req:MQTT-GW-ERR-002 @needs:mqtt-modbus
  Scenario: Payload format invalid is not sent over and over, and later telemetry flows
    When the platform answers the next telemetry message with 0x99, and every message carrying its content again
    And 20 seconds pass
    Then the refused message was not sent more than 3 times
    And telemetry read after the refusal was accepted for every meter
