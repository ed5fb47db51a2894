@profile_device2
Feature: Bad input to every operation is refused with the seed's status and a message naming the field
  400 for a parameter the operation does not accept, 404 for a gateway context, identity or
  resource that does not exist, 409 for a state that refuses the request. Every refusal is a
  JSON object whose "field" names the parameter and whose "message" names it too; nothing is
  changed by a refused call.

  Background:
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    And the operator has called "addResource" with {"alias": "temp", "format": "number", "settable": true}

  @req:D2-ERR-001
  Scenario Outline: <operation> refuses <what>
    When the operator calls "<operation>" with <params>
    Then the answer is <status> naming "<field>"

    Examples: identities
      | operation         | what                       | params                                                      | status | field        |
      | addIdentity       | an identity already there  | {"identity": "dev1"}                                        | 409    | identity     |
      | addIdentity       | a locked that is not bool  | {"identity": "d2", "locked": "yes"}                         | 400    | locked       |
      | addIdentity       | a short password           | {"identity": "d2", "auth": {"type": "password", "key": "short"}} | 400 | auth.key   |
      | addIdentity       | an unknown auth type       | {"identity": "d2", "auth": {"type": "secret"}}              | 400    | auth.type    |
      | addIdentity       | an expire in seconds       | {"identity": "d2", "auth": {"expire": 1767225600}}          | 400    | auth.expire  |
      | addIdentity       | no identity                | {}                                                          | 400    | identity     |
      | getIdentity       | an unknown identity        | {"identity": "ghost"}                                       | 404    | identity     |
      | listIdentities    | an unknown status          | {"status": "sleeping"}                                      | 400    | status       |
      | countIdentities   | an unknown status          | {"status": "sleeping"}                                      | 400    | status       |
      | makeIdentity      | certificate identities     | {"auth": {"type": "certificate"}}                           | 400    | auth.type    |
      | removeIdentity    | an unknown identity        | {"identity": "ghost"}                                       | 404    | identity     |
      | removeIdentities  | no identities              | {}                                                          | 400    | identities   |
      | updateIdentity    | an unknown identity        | {"identity": "ghost", "locked": true}                       | 404    | identity     |
      | updateIdentity    | a locked that is not bool  | {"identity": "dev1", "locked": "yes"}                       | 400    | locked       |
      | updateIdentities  | no update                  | {"identity": "dev1"}                                        | 400    | update       |
      | updateIdentities  | an unknown query parameter | {"query": 5}                                                | 400    | query        |

    Examples: state, tags and permissions
      | operation                | what                      | params                                             | status | field     |
      | getIdentityState         | an unknown identity       | {"identity": "ghost"}                              | 404    | identity  |
      | setIdentityState         | an unknown identity       | {"identity": "ghost", "temp": 1}                   | 404    | identity  |
      | setIdentityState         | a value of another format | {"identity": "dev1", "temp": "hot"}                | 400    | temp      |
      | addIdentityTag           | tags that are not a list  | {"identity": "dev1", "tags": "x"}                  | 400    | tags      |
      | getIdentityTag           | a name that is not text   | {"identity": "dev1", "name": 5}                    | 400    | name      |
      | listTagNames             | an unknown parameter      | {"x": 1}                                           | 400    | x         |
      | removeIdentityTag        | an empty name             | {"identity": "dev1", "name": ""}                   | 400    | name      |
      | getIdentityPermission    | an unknown identity       | {"identity": "ghost"}                              | 404    | identity  |
      | updateIdentityPermission | an unknown permission     | {"identity": "dev1", "permission": {"rule": {}}}   | 400    | permission.rule |

    Examples: resources and settings
      | operation              | what                    | params                                   | status | field   |
      | addResource            | an alias already there  | {"alias": "temp"}                        | 409    | alias   |
      | addResource            | an unknown format       | {"alias": "x", "format": "colour"}       | 400    | format  |
      | getGatewayResource     | an unknown alias        | {"alias": "ghost"}                       | 404    | alias   |
      | getGatewayResourceList | an unknown parameter    | {"x": 1}                                 | 400    | x       |
      | updateResource         | an unknown alias        | {"alias": "ghost", "unit": "C"}          | 404    | alias   |
      | updateResource         | a timeout out of range  | {"alias": "temp", "timeout": 5}          | 400    | timeout |
      | updateGatewaySettings  | a domain with a space   | {"fqdn": "bad domain"}                   | 400    | fqdn    |

    Examples: data, queries and metrics
      | operation               | what                     | params                                                                 | status | field     |
      | publishData             | an empty payload         | {"identity": "dev1", "payload": []}                                    | 400    | payload   |
      | publishData             | a timestamp in seconds   | {"identity": "dev1", "payload": [{"timestamp": 1767225600, "values": {"temp": 1}}]} | 400 | payload[0].timestamp |
      | queryResource           | a limit of 0             | {"resource": "temp", "limit": 0}                                       | 400    | limit     |
      | querySignal             | an unknown order         | {"identity": "dev1", "signal": "temp", "order": "up"}                  | 400    | order     |
      | querySignals            | no signals               | {"identity": "dev1", "signals": []}                                    | 400    | signals   |
      | latestSignalsSearch     | identities of a number   | {"identities": 5}                                                      | 400    | identities |
      | querySignalSubscribers  | no signal                | {"identity": "dev1"}                                                   | 400    | signal    |
      | querySignalsSubscribers | no identity              | {"signals": ["temp"]}                                                  | 400    | identity  |
      | aggrqueryResource       | an unknown bucket        | {"resource": "temp", "bucket": "2m"}                                   | 400    | bucket    |
      | aggrquerySignal         | an unknown field         | {"identity": "dev1", "signal": "temp", "bucket": "1m", "fields": ["avg"]} | 400 | fields[0] |
      | aggrquerySignals        | an unknown bucket        | {"identity": "dev1", "signals": ["temp"], "bucket": "1d"}              | 400    | bucket    |
      | getDeviceMetrics        | an unknown metric        | {"metric_name": "nope"}                                                | 400    | metric_name |

    Examples: restore
      | operation            | what                   | params                        | status | field      |
      | restoreTime          | a date of words        | {"start_date": "yesterday"}   | 400    | start_date |
      | restoreUrl           | no URLs                | {"urls": []}                  | 400    | urls       |
      | restoreUrl           | a URL of another scheme | {"urls": ["https://example.com/day.ndjson"]} | 400 | urls[0] |
      | getRestoreTaskStatus | an unknown task        | {"task_id": "nope"}           | 400    | task_id    |
      | retryRestoreTask     | an unknown task        | {"task_id": "nope"}           | 400    | task_id    |
      | getRestoreStatus     | an unknown parameter   | {"limit": 0}                  | 400    | limit      |

  @req:D2-ERR-002
  Scenario: An unknown gateway context is 404 naming the product
    When the operator calls "getIdentity" of the product "no-such-product" with {"identity": "dev1"}
    Then the answer is 404 naming "product"

  @req:D2-ERR-003
  Scenario: A body that is not a JSON object is 400 and the service keeps serving
    When the operator posts "not json" to "addIdentity"
    Then the answer is 400
    When the operator calls "getIdentity" with {"identity": "dev1"}
    Then the answer is 200

  @req:D2-ERR-004
  Scenario: A refused call changes nothing
    When the operator calls "addIdentity" with {"identity": "dev1", "locked": true}
    Then the answer is 409 naming "identity"
    And "dev1" has status "whitelisted"
