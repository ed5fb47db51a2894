@profile_rs485_osdp
Feature: An OSDP reader's card reads, keypad, tamper switch, LED and buzzer
  A person at the reader under test presents a card, types on its keypad or opens its case
  (the tamper switch), and the control panel gets the event; the control panel's LED and
  buzzer commands reach the reader over the secure channel and change what it shows and sounds.

  Background:
    Given the OSDP reader under test on a line
    And a control panel polling the reader under test with its key
    And the control panel sees the reader under test online within 5 s

  @req:OSDP-CARD-01 @needs:osdp-reader-control
  Scenario: A card read reaches the control panel
    When card 12:3456 is presented at the reader under test
    Then the control panel receives card 12:3456 from the reader under test within 2 s

  @req:OSDP-KEY-01 @needs:osdp-reader-control
  Scenario: Keypad presses reach the control panel
    When keys "1234#" are pressed at the reader under test
    Then the control panel receives keys "1234#" from the reader under test within 2 s

  @req:OSDP-TAMPER-01 @needs:osdp-reader-control
  Scenario: A tamper switch reaches the control panel
    When the tamper switch of the reader under test opens
    Then the control panel receives a tamper report from the reader under test within 2 s

  @req:OSDP-LED-01 @needs:osdp-pd
  Scenario: The reader acknowledges an LED command
    When the control panel sets the LED of the reader under test to "red"
    Then the reader under test acknowledges the command within 2 s

  @req:OSDP-LED-02 @needs:osdp-reader-control
  Scenario: An LED command changes the colour the reader shows
    When the control panel sets the LED of the reader under test to "green"
    Then the reader under test acknowledges the command within 2 s
    And the LED of the reader under test shows "green"
    And the line carries secure LED blocks to the reader under test

  @req:OSDP-BUZ-01 @needs:osdp-pd
  Scenario: The reader acknowledges a buzzer command
    When the control panel sounds the buzzer of the reader under test 1 times
    Then the reader under test acknowledges the command within 2 s

  @req:OSDP-BUZ-02 @needs:osdp-reader-control
  Scenario: A buzzer command sounds the reader
    When the control panel sounds the buzzer of the reader under test 2 times
    Then the reader under test acknowledges the command within 2 s
    And the reader under test beeped 2 times
