// Suite registry: the order here is the order of a run. A new suite is one file plus one line here.
import type { Suite } from "../src/core/check.ts";
import { apiSuite } from "./api.ts";
import { authSuite } from "./auth.ts";
import { clientsSuite } from "./clients.ts";
import { corsSuite } from "./cors.ts";
import { hostSuite } from "./host.ts";
import { integrationSuite } from "./integration.ts";
import { metricsSuite } from "./metrics.ts";
import { postureSuite } from "./posture.ts";
import { systemSuite } from "./system.ts";
import { redirectSuite } from "./redirect.ts";
import { streamingSuite } from "./streaming.ts";
import { tlsSuite } from "./tls.ts";

export const SUITES: Suite[] = [
  tlsSuite,
  authSuite,
  corsSuite,
  redirectSuite,
  apiSuite,
  streamingSuite,
  clientsSuite,
  metricsSuite,
  integrationSuite,
  hostSuite,
  systemSuite,
  postureSuite,
];

export const SUITE_NAMES = SUITES.map((suite) => suite.name);
