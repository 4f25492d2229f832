@stage1
Feature: Find negatives - forged and malformed find requests are refused
  A provider must register only what a genuine find from the CDA asks for. Each scenario sends
  the find of a member who matches (a stage 1 test case's member, a different one in each),
  forged or malformed in one way, and expects the provider to refuse it with a 4xx and to
  register nothing (watched as for a find that matches nothing, and by the run's registration
  audit). The test data is cleared down once before them, so a lenient provider's registration
  cannot hide behind an earlier one; as each uses its own member, they run side by side without
  hiding one another's. Stage 1's own scenarios, which run after these, start from that
  cleared-down state.
  Test data: testpacks/integration/pack.toml.

  Background:
    Given the provider's test data has been cleared down once for these scenarios

  Scenario Outline: <title>
    When the pension finder sends a find request for the member of test case "<case>" with <forgery>
    Then the provider refuses the find request with a 4xx status
    And no PeI is registered for the refused find request

    @case:FN-01
    Examples: bad signature
      | case  | title                                          | forgery                             |
      | S1-01 | A find token with a bad signature is refused    | a find token with a bad signature   |

    @case:FN-02
    Examples: expired token
      | case  | title                                          | forgery                             |
      | S1-02 | An expired find token is refused               | an expired find token               |

    @case:FN-03
    Examples: wrong issuer
      | case  | title                                          | forgery                             |
      | S1-03 | A find token from the wrong issuer is refused  | a find token from the wrong issuer  |

    @case:FN-04
    Examples: wrong audience
      | case  | title                                          | forgery                             |
      | S1-04 | A find token for the wrong audience is refused | a find token for the wrong audience |

    @case:FN-05
    Examples: no request id
      | case  | title                                          | forgery                             |
      | S1-06 | A find without an X-Request-ID is refused      | no X-Request-ID                     |

    @case:FN-06
    Examples: malformed request id
      | case  | title                                          | forgery                             |
      | S1-07 | A find with a malformed X-Request-ID is refused | a malformed X-Request-ID           |
