@profile_ble_router
Feature: The router's configuration (GET /cassia/info)

  @req:BLE-INFO-001 @req:BLE-INFO-002 @needs:info @realwire
  Scenario: The router describes itself
    When the client asks for the router's configuration
    Then the configuration names the router's MAC address and firmware version
    And the configuration has no "container" section

  @req:BLE-INFO-005 @needs:info
  Scenario: The configuration carries the chip, connection and scan parameters
    When the client asks for the router's configuration
    Then the configuration has the fields "chipinfo", "conn_params" and "scan"

  @req:BLE-INFO-003 @needs:info
  Scenario: fields=container returns the container status
    When the client asks for the router's configuration with "fields=container"
    Then the answer carries the container status

  @req:BLE-INFO-004 @needs:info
  Scenario: fields accepts only the value container
    When the client asks for the router's configuration with "fields=wireless"
    Then the request is refused as bad input mentioning "fields"
