@profile_device2
Feature: Every identity format of identity_format is enforced, on whitelisting and on devices
  identity_format.type takes mac:48, mac-48, mac.48, uuidv4, base10, base16 and opaque, with a
  prefix (base10, base16), a length, a casing and a MAC base. An identity that does not match is
  refused with 400 naming "identity"; makeIdentity makes identities that match.

  @req:D2-ID-001
  Scenario Outline: The <type> format accepts <valid> and refuses <invalid>
    Given the operator has called "updateGatewaySettings" with {"identity_format": <format>}
    When the operator calls "addIdentity" with {"identity": "<valid>"}
    Then the answer is 204
    When the operator calls "addIdentity" with {"identity": "<invalid>"}
    Then the answer is 400 naming "identity"

    Examples:
      | type       | format                                                                  | valid                                | invalid                              |
      | mac:48     | {"type": "mac:48", "options": {"mac_base": "00:1B:63"}}                 | 00:1b:63:aa:bb:cc                    | 00:1b:64:aa:bb:cc                    |
      | mac-48     | {"type": "mac-48"}                                                      | a4-5e-60-01-02-03                    | a4:5e:60:01:02:03                    |
      | mac.48     | {"type": "mac.48"}                                                      | a45.e60.010.203                      | a45.e60.010                          |
      | uuidv4     | {"type": "uuidv4"}                                                      | e5fa76f8-1220-45c9-b972-3e2345851677 | e5fa76f8-1220-35c9-b972-3e2345851677 |
      | base10     | {"type": "base10", "prefix": "sn-", "options": {"length": 6}}           | sn-012345                            | sn-01234a                            |
      | base16     | {"type": "base16", "prefix": "ab", "options": {"length": 4, "casing": "lower"}} | ab00ff                       | AB00ff                               |
      | opaque     | {"type": "opaque", "options": {"casing": "upper"}}                      | DEVICE_7                             | device_7                             |

  @req:D2-ID-002
  Scenario Outline: A device presenting a <type> identity provisions only when it matches
    Given the operator has called "updateGatewaySettings" with {"identity_format": <format>}
    When an HTTP device "good" with identity "<valid>" is switched on
    And an HTTP device "bad" with identity "<invalid>" is switched on
    And 1 second passes
    Then "good" is provisioned with a 40-character token
    And "bad" is refused

    Examples:
      | type   | format                                                        | valid             | invalid           |
      | mac-48 | {"type": "mac-48"}                                            | a4-5e-60-01-02-03 | a4:5e:60:01:02:03 |
      | base10 | {"type": "base10", "prefix": "sn-", "options": {"length": 6}} | sn-012345         | sn-12345          |

  @req:D2-ID-003
  Scenario Outline: makeIdentity makes a <type> identity that matches its format
    Given the operator has called "updateGatewaySettings" with {"identity_format": <format>}
    When the operator calls "makeIdentity"
    Then the answer is 200
    And the answer's "identity" is a valid "<type>" identity
    And the answer's "status" is "whitelisted"

    Examples:
      | type   | format                                                                            |
      | mac:48 | {"type": "mac:48", "options": {"mac_base": "00:1B:63"}}                           |
      | mac-48 | {"type": "mac-48"}                                                                |
      | mac.48 | {"type": "mac.48"}                                                                |
      | uuidv4 | {"type": "uuidv4"}                                                                |
      | base10 | {"type": "base10", "prefix": "sn", "options": {"length": 8}}                      |
      | base16 | {"type": "base16", "options": {"length": 12, "casing": "upper"}}                  |
      | opaque | {"type": "opaque"}                                                                |

  @req:D2-ID-004
  Scenario: A format setting the service cannot use is refused naming its field
    When the operator calls "updateGatewaySettings" with {"identity_format": {"type": "mac-64"}}
    Then the answer is 400 naming "identity_format.type"
