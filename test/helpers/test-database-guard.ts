/** Tests never touch a database whose name does not say it is for tests. */
export function assertTestDatabase(url: string): void {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/test/i.test(name)) {
    throw new Error(
      `refusing to run tests against database "${name}": its name must contain "test"`,
    );
  }
}
