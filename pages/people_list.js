// The online list as data: one element whatever the number of people, rows rendered by Quasar's virtual scroll
// (only those on screen are in the DOM). The server keeps no copy per page: when the list appears, and again
// whenever the socket reconnects, it asks for the whole list (`ready` → `reset`); in between, each change is one
// small message (`apply`).
export default {
  template: `
    <div>
      <div class="text-caption text-grey-8 q-mb-xs">{{ loaded ? rows.length + " online" : "" }}</div>
      <div v-if="loaded && !rows.length" class="text-grey-8">{{ nobody }}</div>
      <q-virtual-scroll v-else-if="rows.length" :items="rows" bordered separator class="bg-white rounded-borders"
                        style="max-height: 65vh" :virtual-scroll-item-size="57" v-slot="{ item }">
        <q-item :key="item.name" class="items-center">
          <q-item-section avatar>
            <q-avatar color="primary" text-color="white">{{ item.name.charAt(0).toUpperCase() }}</q-avatar>
          </q-item-section>
          <q-item-section><q-item-label class="text-weight-medium">{{ item.name }}</q-item-label></q-item-section>
          <q-item-section side>
            <div class="row items-center no-wrap q-gutter-sm">
              <q-badge v-if="item.presence === 'in_call'" color="orange" text-color="black">In a call</q-badge>
              <q-badge v-else-if="item.presence === 'do_not_disturb'" color="grey-8">Do not disturb</q-badge>
              <q-btn unelevated no-caps color="positive" icon="call" :label="'Call ' + item.name"
                     @click="$emit('call', item.name)" />
            </div>
          </q-item-section>
        </q-item>
      </q-virtual-scroll>
    </div>`,
  props: { nobody: String },
  data() {
    return { rows: [], loaded: false };
  },
  mounted() {
    this.ready = () => this.$emit("ready");
    this.ready();
    window.socket?.on("connect", this.ready); // a reconnected page may have missed changes: ask for all again
  },
  updated() {
    // Quasar's virtual scroll wraps the rows in a focusable `div tabindex=-1` inside its role=list element, so to a
    // screen reader the list's items are not its children (axe: aria-required-children). Nothing focuses it.
    this.$el.querySelector(".q-virtual-scroll__content[tabindex]")?.removeAttribute("tabindex");
  },
  unmounted() {
    window.socket?.off("connect", this.ready);
  },
  methods: {
    order(a, b) {
      const x = a.toLowerCase(), y = b.toLowerCase();
      return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
    },
    // the whole list: [[name, presence], ...]
    reset(people) {
      this.rows = people.map(([name, presence]) => ({ name, presence })).sort((a, b) => this.order(a.name, b.name));
      this.loaded = true;
    },
    // changes: [[name, presence], ...], presence "online", "in_call", "do_not_disturb" or "offline" (gone from the list)
    apply(changes) {
      for (const [name, presence] of changes) this.change(name, presence);
      document.dispatchEvent(new CustomEvent("vc-presence", { detail: changes }));
    },
    change(name, presence) {
      let low = 0, high = this.rows.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (this.order(this.rows[mid].name, name) < 0) low = mid + 1;
        else high = mid;
      }
      const here = low < this.rows.length && this.rows[low].name === name;
      if (presence === "offline") {
        if (here) this.rows.splice(low, 1);
      } else if (here) {
        this.rows[low].presence = presence;
      } else {
        this.rows.splice(low, 0, { name, presence });
      }
    },
  },
};
