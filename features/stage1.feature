@stage1
Feature: Stage 1 - find, register and view without intervention
  PDP's stage 1: every case that runs without intervention from the organisation, and that sets
  up the matches stage 2 checks after the match updates. The data was cleared down before the
  stage starts; the scenarios build on one another's registrations, so they do not clear down.
  Test data: testpacks/integration/pack.toml.

  Scenario Outline: <title>
    When the pension finder sends a find request for the member of test case "<case>"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And every registration has the match status the test pack expects, the scheme name as description and the find request's X-Request-ID as inbound_request_id
    When the dashboard requests the view data of each registered PeI through the UMA flow
    Then each view response is a valid view data token signed by the provider
    And the view data matches the registration and the test pack

    @case:S1-01
    Examples: exact match
      | case  | title                                 |
      | S1-01 | Exact match on every find data item   |

    @case:S1-02
    Examples: previous surname
      | case  | title                                  |
      | S1-02 | Match on a previous surname            |

    @case:S1-03
    Examples: previous address
      | case  | title                                  |
      | S1-03 | Match on a previous address            |

    @case:S1-04
    Examples: NI number present
      | case  | title                                                          |
      | S1-04 | NI number present confirms the match despite a new address     |

    @case:S1-05 @possible-match
    Examples: NI number absent, possible match
      | case  | title                                                            |
      | S1-05 | NI number absent and a new address give a possible match         |

    @case:S1-06
    Examples: several pensions
      | case  | title                                                  |
      | S1-06 | Several pensions for one person, each registered       |

    @case:S1-07
    Examples: split administration
      | case  | title                                                              |
      | S1-07 | Split administration returns several arrangements in one view      |

    @case:S1-08 @possible-match
    Examples: possible match to be rejected
      | case  | title                                                  |
      | S1-08 | A second possible match (rejected in stage 2)          |

    @case:S1-09 @possible-match
    Examples: possible match to expire
      | case  | title                                                  |
      | S1-09 | A third possible match (times out in stage 2)          |

    @case:S1-11
    Examples: value not yet available
      | case  | title                                                               |
      | S1-11 | A value not yet available carries its unavailable code              |

    @case:S1-12
    Examples: new member
      | case  | title                                                  |
      | S1-12 | New member: administrative details not available       |

    @case:S1-13
    Examples: temporary system error
      | case  | title                                                  |
      | S1-13 | Temporary system error reported in the view data       |

    @case:S1-15
    Examples: contact the scheme
      | case  | title                                                           |
      | S1-15 | Matched, but the member must contact the scheme (2.004)         |

    @case:S1-16
    Examples: transliterated and hyphenated name
      | case  | title                                                                     |
      | S1-16 | A transliterated, hyphenated name matches the provider's own spelling     |

  @case:S1-10
  Scenario: No match: nothing is registered and the find is still acknowledged
    When the pension finder sends a find request for the member of test case "S1-10"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And no PeI is registered for the find request

  @case:S1-14
  Scenario: The same person's find request twice registers the PeI once
    When the pension finder sends a find request for the member of test case "S1-14"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    When the pension finder sends the same person's find request again
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And the PeI is not registered a second time
