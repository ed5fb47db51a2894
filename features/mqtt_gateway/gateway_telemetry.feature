@profile_mqtt_gateway
Feature: A gateway's telemetry has the seed's shape and the meters' values (SUT = a gateway)
  Each meter's ticks point holds the world's time in tenths of a second when it is read, so
  every reading names itself; a sniffer on the line hears what the gateway read.

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-TEL-001 @needs:mqtt-modbus
  Scenario: Telemetry is {device: [{ts, values}]} stamped in milliseconds when read
    When 15 seconds pass
    Then the gateway published telemetry of every meter as arrays of ts and values
    And each reading's ts is within 2 seconds of when the gateway read it from the meter

  @req:MQTT-GW-TEL-002 @req:MQTT-GW-LOSS-001 @needs:mqtt-modbus
  Scenario: The values the platform gets are the ones the gateway read
    When 15 seconds pass
    Then every ticks value the platform accepted is one the gateway read from that meter
    And no telemetry was lost, duplicated or reordered
