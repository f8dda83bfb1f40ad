import { runBusConformance } from './conformance.ts';
import { MemoryBus } from './memory.ts';

runBusConformance({
  name: 'in-process',
  async open(o) {
    return new MemoryBus(o);
  },
  async dispose(bus) {
    await bus.close();
  },
});
