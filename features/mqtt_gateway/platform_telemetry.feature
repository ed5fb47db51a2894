@profile_mqtt_gateway
Feature: A platform stores gateway telemetry (SUT = a platform)
  v1/gateway/telemetry carries arrays of {"ts", "values"} per device (or plain value maps);
  each value is stored at its ts in Unix milliseconds, the arrival time when there is none.

  @req:MQTT-TEL-001 @req:MQTT-TEL-003 @needs:mqtt-platform-control
  Scenario: Telemetry of two devices is stored at its timestamps
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes the seed's telemetry example on "v1/gateway/telemetry"
    Then the platform acknowledged it with reason 0
    And the platform holds "temperature" of "Device A" as 42 at 1483228800000 and 43 at 1483228801000
    And the platform holds "humidity" of "Device A" as 80 at 1483228800000 and 82 at 1483228801000
    And the platform holds "temperature" of "Device B" as 42 at 1483228800000

  @req:MQTT-TEL-002 @needs:mqtt-platform-control
  Scenario: Plain value maps are stamped with the time they arrived
    Given a connected harness gateway "gw-1" with device "Device A"
    When "gw-1" publishes {"Device A": [{"temperature": 21.5}]} on "v1/gateway/telemetry"
    Then the platform acknowledged it with reason 0
    And the platform holds "temperature" of "Device A" as 21.5 stamped within 10 seconds of now
