@profile_mqtt_gateway
Feature: Gateways of two tenants never see each other's devices (SUT = a platform)

  @req:MQTT-TEN-001 @needs:mqtt-tenants
  Scenario: The same device name in two tenants is two devices
    Given a connected harness gateway "gw-a" of tenant "tenant-a" with device "Device A"
    And a connected harness gateway "gw-b" of tenant "tenant-b" with device "Device A"
    When "gw-a" publishes {"Device A": {"owner": "a"}} on "v1/gateway/attributes"
    And "gw-b" publishes {"id": 5, "device": "Device A", "client": true, "key": "owner"} on "v1/gateway/attributes/request"
    Then "gw-b" receives on "v1/gateway/attributes/response" {"id": 5, "device": "Device A"}
    When the platform sends RPC "whoami" with {"tenant": "a"} to "Device A" of tenant "tenant-a"
    Then the RPC succeeded with {"success": true, "params": {"tenant": "a"}}
    And "gw-b" received nothing on "v1/gateway/rpc"
