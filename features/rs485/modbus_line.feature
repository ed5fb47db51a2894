@profile_rs485_modbus
Feature: Modbus RTU on a faulty RS485 line
  The line is modelled, not just the messages: absent slaves are silent, noise corrupts frames
  so CRCs fail and the master retries, two masters collide, a slave loses power, a node at the
  wrong baud rate sees garbage.

  Background:
    Given the slave under test on a Modbus line

  @req:MB-LINE-01 @needs:modbus-rtu
  Scenario: An absent slave stays silent and the master times out after its retries
    Given a Modbus master "master" with a 0.2 s timeout and 2 retries
    When "master" reads holding registers from absent slave 42
    Then "master" got no reply after 3 tries

  @req:MB-LINE-02 @needs:modbus-rtu
  Scenario: Noise causes CRC errors and the master retries until a clean exchange
    Given a Modbus master "master" with a 0.2 s timeout and 8 retries
    When the line has a bit-error rate of 0.01 for 0.15 s
    And "master" reads 4 input registers at the input address
    Then "master" got a normal reply to function 4
    And "master" needed 2 or more tries
    And the capture shows 1 or more noisy frames
    And no slave answered a noisy request

  @req:MB-LINE-03 @needs:modbus-rtu
  Scenario: Two masters driving at once collide and both must retry
    Given a Modbus master "A" with a 0.2 s timeout and 3 retries
    And a Modbus master "B" with a 0.3 s timeout and 3 retries
    When "A" and "B" read input registers at the same instant
    Then the capture shows 1 or more colliding frames
    And no slave answered a colliding frame
    And "A" needed 2 or more tries
    And "A" got a normal reply to function 4
    And "B" got a normal reply to function 4

  @req:MB-LINE-04 @needs:modbus-fault-injection
  Scenario: A slave power cycle loses its answers while off and its written values after
    Given a Modbus master "master" with a 0.2 s timeout and 0 retries
    When "master" writes 99 to the writable register
    And the slave under test is powered off for 2 s
    And "master" reads 1 holding registers from the writable register
    Then "master" got no reply after 1 tries
    When 3 seconds pass
    And "master" reads 1 holding registers from the writable register
    Then "master" read the values 0

  @req:MB-LINE-05 @needs:modbus-rtu
  Scenario: A master at the wrong baud rate sees garbage and gets no answer
    Given a Modbus master "fast" at "19200 8N1" on the line
    When "fast" reads 4 input registers at the input address
    Then the wrong-baud master "fast" got no reply
    And "fast" got no reply after 3 tries

  @req:MB-LINE-06 @needs:modbus-rtu
  Scenario: A master with the wrong parity gets no answer
    Given a Modbus master "even" at "9600 8E1" on the line
    When "even" reads 4 input registers at the input address
    Then the wrong-baud master "even" got no reply
