"use strict";
document.getElementById("status").textContent = "The dashboard is being built.";
