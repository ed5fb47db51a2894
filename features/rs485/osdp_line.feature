@profile_rs485_osdp
Feature: OSDP readers on an RS485 line
  Our control panel (libosdp) polls the reader under test on a timed RS485 line: it comes
  online, drops offline when powered off and back after the CP's retry back-off, opens a secure
  channel only with its own key, and shares the line with other readers, each answering only
  its own address.

  Background:
    Given the OSDP reader under test on a line

  @req:OSDP-LINE-01 @needs:osdp-pd
  Scenario: The reader answers the control panel's identification and comes online
    Given a control panel polling the reader under test with its key
    Then the control panel sees the reader under test online within 5 s
    And the control panel read the identity of the reader under test

  @req:OSDP-LINE-02 @needs:osdp-power-control
  Scenario: A reader powered off goes offline and comes back online when powered again
    Given a control panel polling the reader under test with its key
    And the control panel sees the reader under test online within 5 s
    When the reader under test is powered off
    Then the control panel sees the reader under test offline within 15 s
    When the reader under test is powered on
    Then the control panel sees the reader under test online within 330 s

  @req:OSDP-LINE-03 @needs:osdp-pd
  Scenario: An address where no reader is stays silent and offline
    Given a control panel polling address 99 where no reader is
    Then the control panel never sees reader 99 online in 5 s
    And no reply from address 99 crossed the line

  @req:OSDP-SC-01 @needs:osdp-secure-channel
  Scenario: The secure channel opens with the reader's key
    Given a control panel polling the reader under test with its key
    Then the control panel sees the reader under test online within 5 s
    And the secure channel to the reader under test is active
    And the line carries secure POLL blocks to the reader under test

  @req:OSDP-SC-02 @needs:osdp-secure-channel
  Scenario: A control panel with a wrong key gets no secure channel and no reader
    Given a control panel polling the reader under test with a wrong key
    Then the control panel never sees the reader under test online in 10 s
    And the secure channel to the reader under test is not active

  @req:OSDP-SC-02 @needs:osdp-secure-channel
  Scenario: A reader enforcing the secure channel serves no control panel that falls back to plain
    Given a control panel polling the reader under test with a wrong key, falling back to plain
    When 10 seconds pass
    Then the secure channel to the reader under test is not active
    And the reader under test served no plain command past the handshake

  @req:OSDP-MULTI-01 @needs:osdp-multi-pd
  Scenario: Several readers share one line and each answers for its own address
    Given OSDP readers at addresses 2, 3 on the line
    And a control panel polling the reader under test and addresses 2, 3
    Then the control panel has every polled reader online within 10 s
    When card 7:1001 is presented at reader 3
    Then the control panel receives card 7:1001 from reader 3 within 2 s
    And the control panel received no event from reader 2
    And the control panel received no event from the reader under test
    When the control panel sets the LED of reader 2 to "green"
    Then reader 2 acknowledges the command within 2 s
    And the LED of reader 2 shows "green"
    And the LED of the reader under test shows "black"
