@profile_rs485_modbus
Feature: A Modbus RTU slave frames requests by the line's silence
  An RTU receiver takes whatever arrives between two 3.5-character silences as one frame: a
  runt, a truncated or a corrupt frame is discarded whole and the next good request is
  answered; two requests without the silence between them are one corrupt frame; a broadcast
  is never answered, whatever it holds.

  Background:
    Given the slave under test on a Modbus line
    And a raw Modbus sender "probe" on the line
    And a Modbus master "master" with a 0.2 s timeout and 0 retries

  @req:MB-FRAME-01 @needs:modbus-rtu
  Scenario: After a runt frame the next request is answered
    When "probe" sends the runt frame "01 03"
    Then "probe" heard no reply
    When "master" reads 4 input registers at the input address
    Then "master" got a normal reply to function 4
    And "master" got its reply at the first try

  @req:MB-FRAME-01 @req:MB-BCAST-03 @needs:modbus-rtu
  Scenario: After a broadcast header without its data the next request is answered
    When "probe" broadcasts the header of a write of 123 registers without its data
    Then "probe" heard no reply
    When "master" reads 4 input registers at the input address
    Then "master" got a normal reply to function 4
    And "master" got its reply at the first try

  @req:MB-FRAME-02 @needs:modbus-rtu
  Scenario: Two requests without the silence between them are not both answered
    When "probe" sends two reads of the input address without a gap
    Then "probe" heard at most 1 reply
    When "master" reads 4 input registers at the input address
    Then "master" got its reply at the first try

  @req:MB-BCAST-03 @needs:modbus-rtu
  Scenario Outline: A broadcast is never answered, whatever it holds
    When "probe" broadcasts function <function> with data "<data>"
    Then "probe" heard no reply

    Examples:
      | function | data        |
      | 3        | 00 00 00 01 |
      | 3        | 00 00 00 00 |
      | 5        | 00 00 12 34 |
      | 50       | 00 00 00 01 |
      | 131      | 00 00 00 01 |
      | 17       |             |
