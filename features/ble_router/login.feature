@profile_ble_router
Feature: Logging in before the /cassia/* APIs (POST /cassia/login)
  The login takes form data (application/x-www-form-urlencoded) username and password. Until
  it succeeded, /cassia/* answers a login page (HTML) instead of the API's JSON.

  @req:BLE-MGMT-001 @needs:login @needs:info
  Scenario: /cassia/info answers the login page until the client logs in
    Given the router requires a login
    When the client asks for the router's configuration
    Then the answer is the login page, not the configuration
    When the client logs in with the declared credentials
    Then the login is answered 200
    When the client asks for the router's configuration
    Then the configuration names the router's MAC address and firmware version

  @req:BLE-MGMT-003 @needs:login @needs:info
  Scenario: Wrong credentials are refused and open nothing
    Given the router requires a login
    When the client logs in as "admin" with the password "not-the-password"
    Then the login is answered 401
    When the client asks for the router's configuration
    Then the answer is the login page, not the configuration
