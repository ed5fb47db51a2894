@profile_ble_ac
Feature: Authentication (POST /api/oauth2/token, bearer tokens, access_token=)
  The vendor's clients take a token with their developer key and secret (HTTP Basic,
  {"grant_type":"client_credentials"}) and send it with every call, as
  "Authorization: Bearer <token>" or as the seed's access_token=<access-token> parameter.

  @req:AC-AUTH-002 @needs:oauth2
  Scenario: The developer credentials get a bearer token with its lifetime
    When a client asks for a token with the developer credentials
    Then the answer is a bearer token with its lifetime in seconds

  @req:AC-AUTH-003 @needs:oauth2
  Scenario: A call with the bearer token is answered
    Given a fresh token
    When a client lists the routers
    Then the answer is 200

  @req:AC-AUTH-001 @needs:oauth2
  Scenario: The token is also taken as the access_token parameter
    When a client lists the routers with the token as access_token
    Then the answer is 200

  @req:AC-AUTH-004 @needs:oauth2
  Scenario: A wrong secret gets no token
    When a client asks for a token with a wrong secret
    Then the answer is 401

  @req:AC-AUTH-004 @needs:oauth2
  Scenario: Only the client-credentials grant is taken
    When a client asks for a token with grant type "password"
    Then the answer is 400

  @req:AC-AUTH-005 @needs:oauth2
  Scenario: A call without a token is refused with a message
    When a client without a token lists the routers
    Then the answer is 401 saying "token"

  @req:AC-AUTH-005 @needs:oauth2
  Scenario: A call with a token the controller never issued is refused
    When a client lists the routers with the token "not-a-token-of-this-controller"
    Then the answer is 401 saying "token"

  @req:AC-AUTH-006 @needs:oauth2 @needs:token-expiry
  Scenario: An expired token is refused, and a new one works
    Given a fresh token
    When the token's lifetime passes
    And a client lists the routers
    Then the answer is 401 saying "expired"
    Given a fresh token
    When a client lists the routers
    Then the answer is 200
