// Scorecard editor: keep the "Total weight" figures current while weights are typed.
// The server computes the same total on preview and save; this only saves a round trip.
document.addEventListener("DOMContentLoaded", () => {
  const inputs = () => Array.from(document.querySelectorAll("input[data-weight]"));
  const totals = document.querySelectorAll("[data-weight-total]");
  if (!totals.length) {
    return;
  }
  const update = () => {
    let sum = 0;
    let complete = true;
    inputs().forEach((input) => {
      const row = input.closest(".measure-row");
      const removed = row && row.querySelector("input[name$='-remove']:checked");
      const text = input.value.trim();
      if (!text || removed) {
        return;
      }
      const value = Number(text.replace(",", "."));
      if (Number.isFinite(value)) {
        sum += value;
      } else {
        complete = false;
      }
    });
    const rounded = Math.round(sum * 100) / 100;
    totals.forEach((total) => {
      total.querySelector("[data-weight-sum]").textContent = String(rounded);
      const ok = complete && Math.abs(rounded - 100) < 1e-6;
      total.classList.toggle("ok", ok);
      total.classList.toggle("off", !ok);
    });
  };
  document.addEventListener("input", (event) => {
    if (event.target.matches("input[data-weight], input[name$='-remove']")) {
      update();
    }
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[name$='-remove']")) {
      update();
    }
  });
});
