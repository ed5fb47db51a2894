@profile_mqtt_gateway
Feature: A platform stores client attributes and answers attribute requests (SUT = a platform)
  v1/gateway/attributes carries client attributes of several devices at once; requests on
  v1/gateway/attributes/request are answered on v1/gateway/attributes/response with the
  request's id: "value" for one key, "values" for several, missing keys left out.

  @req:MQTT-ATTR-001 @req:MQTT-ATTR-010 @needs:mqtt-platform-role
  Scenario: Client attributes of two devices are stored and read back one key at a time
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"Device A": {"attribute1": "value1", "attribute2": 42}, "Device B": {"attribute1": "value2"}} on "v1/gateway/attributes"
    Then the platform acknowledged it with reason 0
    When "gw-1" publishes {"id": 1, "device": "Device A", "client": true, "key": "attribute1"} on "v1/gateway/attributes/request"
    Then "gw-1" receives on "v1/gateway/attributes/response" {"id": 1, "device": "Device A", "value": "value1"}
    When "gw-1" publishes {"id": 2, "device": "Device B", "client": true, "key": "attribute1"} on "v1/gateway/attributes/request"
    Then "gw-1" receives on "v1/gateway/attributes/response" {"id": 2, "device": "Device B", "value": "value2"}

  @req:MQTT-ATTR-011 @needs:mqtt-platform-role
  Scenario: Several keys are answered as values, a missing key left out
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"Device A": {"attribute1": "value1", "attribute2": 42}} on "v1/gateway/attributes"
    And "gw-1" publishes {"id": 3, "device": "Device A", "client": true, "keys": ["attribute1", "attribute2", "missing"]} on "v1/gateway/attributes/request"
    Then "gw-1" receives on "v1/gateway/attributes/response" {"id": 3, "device": "Device A", "values": {"attribute1": "value1", "attribute2": 42}}

  @req:MQTT-ATTR-012 @needs:mqtt-platform-role
  Scenario: Requests in flight together are answered with their own ids
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"Device A": {"k": "a"}, "Device B": {"k": "b"}, "Device C": {"k": "c"}} on "v1/gateway/attributes"
    And "gw-1" sends at once the attribute requests 11 for "Device A", 12 for "Device B" and 13 for "Device C" of key "k"
    Then "gw-1" receives the answers 11 with "a", 12 with "b" and 13 with "c"

  @req:MQTT-ATTR-013 @needs:mqtt-platform-control
  Scenario: client false asks for the shared attributes the platform set
    Given a connected harness gateway "gw-1" with device "Device A"
    When "gw-1" publishes {"Device A": {"interval": "client value"}} on "v1/gateway/attributes"
    And the platform sets the shared attributes {"interval": 30} of "Device A"
    And "gw-1" publishes {"id": 4, "device": "Device A", "client": false, "key": "interval"} on "v1/gateway/attributes/request"
    Then "gw-1" receives on "v1/gateway/attributes/response" {"id": 4, "device": "Device A", "value": 30}

  @req:MQTT-PUSH-002 @needs:mqtt-platform-control
  Scenario: A gateway that did not subscribe gets no attribute updates
    Given a harness gateway "gw-1"
    When "gw-1" connects with its access token and subscribes to nothing
    And "gw-1" publishes {"device": "Device A"} on "v1/gateway/connect"
    And the platform sets the shared attributes {"interval": 7} of "Device A"
    Then "gw-1" received nothing on "v1/gateway/attributes"
