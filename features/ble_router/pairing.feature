@profile_ble_router
Feature: Secure pairing (POST /management/nodes/<node>/pair, pair-input, DELETE .../bond)
  The router pairs as initiator with the IO capability the request names; the peripheral
  answers with its own, so the method follows the Bluetooth pairing table. Step 1 (pair)
  answers 1 or 0 when nothing is needed from the user, 5 when the router must input the
  passkey the device displays, 6 when the router displays a passkey to type on the device,
  3 when the legacy OOB TK is expected and 7 (with display) for numeric comparison; step 2
  (pair-input) answers 1 or 0. A peripheral's security reads "io=...; sc=yes|no; ...".

  @req:BLE-PAIR-001 @req:BLE-PAIR-009 @needs:pairing @needs:world-control
  Scenario Outline: Just Works pairs in one step
    Given a peripheral "P" at 2 m with security "io=<device io>; sc=<sc>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=<router io>"
    Then the pairing answer is 1
    And "P" is listed with pairStatus "paired"
    And the link to "P" is encrypted

    Examples:
      | router io       | device io       | sc  |
      | NoInputNoOutput | NoInputNoOutput | yes |
      | NoInputNoOutput | DisplayOnly     | yes |
      | NoInputNoOutput | DisplayYesNo    | yes |
      | NoInputNoOutput | KeyboardOnly    | yes |
      | NoInputNoOutput | KeyboardDisplay | no  |
      | KeyboardDisplay | NoInputNoOutput | yes |
      | DisplayOnly     | DisplayYesNo    | yes |
      | DisplayYesNo    | DisplayOnly     | no  |

  @req:BLE-PAIR-002 @needs:pairing @needs:world-control
  Scenario Outline: Passkey entry, the router inputs the passkey the device displays
    Given a peripheral "P" at 2 m with security "io=<device io>; sc=<sc>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=<router io>"
    Then the pairing answer is 5
    When the client enters the passkey shown on "P"
    Then the pairing answer is 1
    And "P" is listed with pairStatus "paired"
    And the link to "P" is encrypted

    Examples:
      | router io       | device io       | sc  |
      | KeyboardOnly    | DisplayOnly     | yes |
      | KeyboardOnly    | DisplayYesNo    | yes |
      | KeyboardOnly    | KeyboardDisplay | yes |
      | KeyboardDisplay | DisplayOnly     | yes |
      | KeyboardDisplay | DisplayYesNo    | no  |
      | KeyboardDisplay | DisplayOnly     | no  |

  @req:BLE-PAIR-002 @needs:pairing @needs:world-control
  Scenario: Passkey entry on two keyboards: both sides enter the same passkey
    Given a peripheral "P" at 2 m with security "io=KeyboardOnly; passkey=314159"
    And "P" is connected
    When the client pairs with "P" using "iocapability=KeyboardOnly"
    Then the pairing answer is 5
    When the client sends the pair-input "passkey=314159" for "P"
    Then the pairing answer is 1

  @req:BLE-PAIR-002 @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario Outline: Passkey entry with a wrong passkey fails
    Given a peripheral "P" at 2 m with security "io=DisplayOnly; sc=<sc>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=KeyboardDisplay"
    Then the pairing answer is 5
    When the client enters a wrong passkey for "P"
    Then the pairing answer is 0
    And "P" is listed with pairStatus "none"

    Examples:
      | sc  |
      | yes |
      | no  |

  @req:BLE-PAIR-008 @needs:pairing @needs:world-control
  Scenario Outline: Passkey entry, the router displays the passkey and the user types it on the device
    Given a peripheral "P" at 2 m with security "io=KeyboardOnly; sc=<sc>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=<router io>"
    Then the pairing answer is 6
    When the user types the passkey the router displays into "P"
    Then "P" is listed with pairStatus "paired" within 5 seconds
    And the link to "P" is encrypted

    Examples:
      | router io       | sc  |
      | DisplayOnly     | yes |
      | DisplayYesNo    | yes |
      | KeyboardDisplay | yes |
      | KeyboardDisplay | no  |

  @req:BLE-PAIR-008 @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario: The user mistypes the displayed passkey on the device: no pairing
    Given a peripheral "P" at 2 m with security "io=KeyboardOnly; behaviour=wrong_passkey"
    And "P" is connected
    When the client pairs with "P" using "iocapability=DisplayOnly"
    Then the pairing answer is 6
    When the user types the passkey the router displays into "P"
    And 2 seconds pass
    Then "P" is listed with pairStatus "none"
    And the link to "P" is not encrypted

  @req:BLE-PAIR-003 @needs:pairing @needs:world-control
  Scenario Outline: Legacy OOB: the TK printed on the device completes the pairing
    Given a peripheral "P" at 2 m with security "io=<device io>; sc=no; oob=legacy"
    And "P" is connected
    When the client pairs with "P" using "<oob param>&iocapability=<router io>"
    Then the pairing answer is 3
    When the client enters the TK printed on "P"
    Then the pairing answer is 1
    And "P" is listed with pairStatus "paired"
    And the link to "P" is encrypted

    Examples:
      | oob param    | router io       | device io       |
      | oob=1        | KeyboardDisplay | NoInputNoOutput |
      | oob=1        | NoInputNoOutput | DisplayOnly     |
      | oob=1        | KeyboardOnly    | KeyboardDisplay |
      | legacy-oob=1 | KeyboardDisplay | DisplayYesNo    |

  @req:BLE-PAIR-003 @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario: Legacy OOB with the wrong TK fails
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput; sc=no; oob=legacy"
    And "P" is connected
    When the client pairs with "P" using "oob=1&iocapability=KeyboardDisplay"
    Then the pairing answer is 3
    When the client enters a TK other than the one printed on "P"
    Then the pairing answer is 0
    And "P" is listed with pairStatus "none"

  @req:BLE-PAIR-005 @req:BLE-PAIR-007 @needs:pairing @needs:world-control
  Scenario Outline: Security OOB pairs in one step with the rand and confirm the device provides
    Given a peripheral "P" at 2 m with security "io=<device io>; oob=secure"
    When the client pairs with "P" using the Security OOB data printed on it and "iocapability=<router io>&timeout=20000&bond=<bond>"
    Then the pairing answer is 1
    And "P" is listed with pairStatus "paired"
    And the link to "P" is encrypted

    Examples:
      | router io       | device io       | bond |
      | KeyboardDisplay | NoInputNoOutput | 0    |
      | NoInputNoOutput | DisplayOnly     | 1    |
      | DisplayYesNo    | KeyboardOnly    | 1    |

  @req:BLE-PAIR-005 @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario: Security OOB with a confirm value that does not match the device fails
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput; oob=secure"
    And "P" is connected
    When the client pairs with "P" using Security OOB data with a wrong confirm value
    Then the pairing answer is 0
    And "P" is listed with pairStatus "none"

  @req:BLE-PAIR-004 @needs:pairing @needs:world-control
  Scenario Outline: Numeric comparison: both sides show the same number, the client confirms
    Given a peripheral "P" at 2 m with security "io=<device io>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=<router io>"
    Then the pairing answer is 7 showing the number "P" displays
    When the client answers the comparison for "P" with "1"
    Then the pairing answer is 1
    And "P" is listed with pairStatus "paired"

    Examples:
      | router io       | device io       |
      | DisplayYesNo    | DisplayYesNo    |
      | DisplayYesNo    | KeyboardDisplay |
      | KeyboardDisplay | DisplayYesNo    |
      | KeyboardDisplay | KeyboardDisplay |

  @req:BLE-PAIR-004 @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario Outline: Numeric comparison denied on either side fails
    Given a peripheral "P" at 2 m with security "io=DisplayYesNo; behaviour=<device>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=KeyboardDisplay"
    Then the pairing answer is 7
    When the client answers the comparison for "P" with "<client>"
    Then the pairing answer is 0
    And "P" is listed with pairStatus "none"

    Examples:
      | client | device        |
      | 0      | accept        |
      | 1      | wrong_passkey |

  @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario Outline: A device that refuses pairing is reported as a failed pairing
    Given a peripheral "P" at 2 m with security "<security>"
    And "P" is connected
    When the client pairs with "P" using "iocapability=NoInputNoOutput"
    Then the pairing answer is 0
    And "P" is listed with pairStatus "none"

    Examples:
      | security                          |
      | io=NoInputNoOutput; behaviour=reject |
      | io=DisplayYesNo; mitm=yes         |

  @req:BLE-PAIR-011 @needs:pairing @needs:world-control
  Scenario: A device that never answers the pairing request: the pairing is aborted
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput; behaviour=timeout"
    And "P" is connected
    When the client pairs with "P" using "iocapability=KeyboardDisplay"
    Then the pairing answer is 2
    And "P" is listed with pairStatus "none"

  @req:BLE-PAIR-007 @needs:pairing @needs:world-control
  Scenario: Pairing a device that is not connected connects it first
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput"
    When the client pairs with "P" using "iocapability=NoInputNoOutput"
    Then the pairing answer is 1
    And the connected-device list contains "P"
    And "P" is listed with pairStatus "paired"

  @req:BLE-PAIR-009 @needs:pairing @needs:world-control
  Scenario: A device never paired is listed with pairStatus none
    Given a peripheral "P" at 2 m
    And "P" is connected
    Then "P" is listed with pairStatus "none"

  @req:BLE-PAIR-010 @needs:pairing @needs:world-control
  Scenario: A bonded device reconnects encrypted without pairing again, even after a power cycle
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput"
    And "P" is connected
    And the client paired with "P" using "iocapability=NoInputNoOutput&bond=1"
    When the client disconnects "P"
    And "P" is powered off
    And "P" is powered on
    And 1 second passes
    And the client connects to "P"
    Then the connection succeeds
    And the link to "P" is encrypted
    And "P" has completed 1 pairing(s)
    And "P" is listed with pairStatus "paired"
    When the client pairs with "P" using "iocapability=NoInputNoOutput"
    Then the pairing answer is 1
    And "P" has completed 1 pairing(s)

  @req:BLE-PAIR-010 @needs:pairing @needs:world-control
  Scenario: Without bonding (bond=0) nothing is kept: the next link is plain
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput"
    And "P" is connected
    When the client pairs with "P" using "iocapability=NoInputNoOutput&bond=0"
    Then the pairing answer is 1
    And "P" is listed with pairStatus "paired"
    And "P" holds 0 bond(s)
    When the client disconnects "P"
    And 1 second passes
    And the client connects to "P"
    Then the connection succeeds
    And the link to "P" is not encrypted
    And "P" is listed with pairStatus "none"

  @req:BLE-PAIR-006 @needs:pairing @needs:world-control
  Scenario: Unpairing removes the router's bond: pairStatus none, and the next pairing is a new one
    Given a peripheral "P" at 2 m with security "io=NoInputNoOutput"
    And "P" is connected
    And the client paired with "P" using "iocapability=NoInputNoOutput"
    When the client unpairs "P"
    Then the response status is 200
    And "P" is listed with pairStatus "none"
    When the client disconnects "P"
    And 1 second passes
    And the client connects to "P"
    Then the link to "P" is not encrypted
    When the client pairs with "P" using "iocapability=NoInputNoOutput"
    Then the pairing answer is 1
    And "P" has completed 2 pairing(s)

  @req:BLE-PAIR-012 @needs:pairing @needs:world-control
  Scenario Outline: Bad pair parameters are refused as bad input
    Given a peripheral "P" at 2 m
    And "P" is connected
    When the client pairs with "P" using "<params>"
    Then the request is refused as bad input mentioning "<mentions>"
    And "P" is listed with pairStatus "none"

    Examples:
      | params                                           | mentions     |
      | iocapability=Telepathy                           | iocapability |
      | io-capability=Keyboard                           | iocapability |
      | oob=3                                            | oob          |
      | oob=2&rand=e18df48c5ad68f0ee3d541e4d60f9ae5      | confirm      |
      | oob=2&rand=xyz&confirm=dbc116a241c8894a67bcbd6841a79473 | rand  |
      | bond=2                                           | bond         |
      | timeout=100                                      | timeout      |

  @req:BLE-PAIR-012 @needs:pairing @needs:world-control
  Scenario Outline: Malformed pair-input values are refused as bad input
    Given a peripheral "P" at 2 m with security "<security>"
    And "P" is connected
    When the client pairs with "P" using "<params>"
    Then the pairing answer is <code>
    When the client sends the pair-input "<input>" for "P"
    Then the request is refused as bad input mentioning "<mentions>"

    Examples:
      | security                       | params                             | code | input           | mentions |
      | io=DisplayOnly                 | iocapability=KeyboardOnly          | 5    | passkey=12ab    | passkey  |
      | io=DisplayYesNo                | iocapability=DisplayYesNo          | 7    | passkey=yes     | passkey  |
      | io=NoInputNoOutput; sc=no; oob=legacy | oob=1&iocapability=KeyboardDisplay | 3 | tk=0x1234   | tk       |

  @req:BLE-PAIR-012 @needs:pairing @needs:world-control
  Scenario: pair-input with no pairing waiting is refused with a clear error
    Given a peripheral "P" at 2 m
    And "P" is connected
    When the client sends the pair-input "passkey=123456" for "P"
    Then the request fails with an error mentioning "pair"
